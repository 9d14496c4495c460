//! What can go wrong while writing or committing output; every message names the path.

use std::io;
use std::path::PathBuf;

use parquet::errors::ParquetError;

/// Everything that can go wrong while writing or committing output.
///
/// Every message names the file or directory concerned. The underlying error is part of the
/// message (and available in the variant's `error` field) rather than exposed as
/// [`std::error::Error::source`], so that error-chain printers do not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A filesystem operation failed.
    #[error("cannot {action} `{}`: {error}", path.display())]
    Io {
        /// What was being attempted, e.g. "create output directory".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating-system error.
        error: io::Error,
    },
    /// The Parquet encoder failed (usually an I/O error underneath).
    #[error("cannot write Parquet table `{}`: {error}", path.display())]
    Parquet {
        /// Final path of the table.
        path: PathBuf,
        /// The error reported by the `parquet` crate.
        error: ParquetError,
    },
    /// The CSV encoder failed (usually an I/O error underneath).
    #[error("cannot write CSV table `{}`: {error}", path.display())]
    Csv {
        /// Final path of the table.
        path: PathBuf,
        /// The error reported by the `csv` crate.
        error: csv::Error,
    },
    /// A table definition or a row does not fit the table's columns.
    ///
    /// This is a programming error in the caller; the offending row is not written and the
    /// table stays usable.
    #[error("schema error in table `{}`: {detail}", path.display())]
    Schema {
        /// Final path of the table.
        path: PathBuf,
        /// What does not match.
        detail: String,
    },
    /// A table stem or file name is not a plain, visible file name.
    #[error("invalid output file name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Two staged files would be committed under the same final name.
    #[error("`{}` is staged more than once", path.display())]
    Duplicate {
        /// The final path claimed twice.
        path: PathBuf,
    },
    /// An earlier I/O or encoder error left the table in an unknown state.
    #[error("table `{}` is unusable after an earlier write error", path.display())]
    Poisoned {
        /// Final path of the table.
        path: PathBuf,
    },
}
