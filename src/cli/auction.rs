//! `dealersim auction BOOK.ron`: clear one book, print the fills, optionally write them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dealersim::mechanisms::auction::clearing::clear;
use dealersim::mechanisms::auction::load::load_book;
use dealersim::mechanisms::auction::report::{fill_rows, symbol_rows, write_clearing};

use super::super::{EXIT_BAD_SCENARIO, EXIT_RUN_FAILED, FormatArg};

/// Filled orders printed before the list is cut (the tables hold them all).
const PRINTED_FILLS: usize = 40;

/// Clears the book at `path`; with `out`, writes `auction_symbols` and `auction_fills`.
pub fn clear_book(
    path: &Path,
    out: Option<PathBuf>,
    format: Option<FormatArg>,
    quiet: bool,
) -> ExitCode {
    let (_, auction) = match load_book(path) {
        Ok(loaded) => loaded,
        Err(error) => {
            errln!("error: {error}");
            return ExitCode::from(EXIT_BAD_SCENARIO);
        }
    };
    let clearing = match clear(&auction) {
        Ok(clearing) => clearing,
        Err(error) => {
            errln!("error: {error}");
            return ExitCode::from(EXIT_RUN_FAILED);
        }
    };
    if !quiet {
        let (vars, constraints) = clearing.model_size;
        outln!(
            "cleared {} orders of {} bidders over {} symbols in {:.1} ms ({} variables, {} constraints over all programs{})",
            auction.orders.len(),
            auction.bidders.len(),
            auction.symbols.len(),
            clearing.solve_seconds * 1e3,
            vars,
            constraints,
            if clearing.optimal {
                ", optimal"
            } else {
                ", NOT proven optimal: time limit"
            }
        );
        outln!("total surplus {:.6}", clearing.surplus);
        outln!();
        outln!("symbol        nbb        nbo      price     volume    surplus  filled  rejected");
        for row in symbol_rows(0, &auction, &clearing) {
            let price = if row.price.is_nan() {
                "-".to_string()
            } else {
                format!("{:.4}", row.price)
            };
            outln!(
                "{:<8} {:>9.4} {:>10.4} {:>10} {:>10} {:>10.4} {:>7} {:>9}",
                row.symbol,
                row.nbb,
                row.nbo,
                price,
                row.volume,
                row.surplus,
                row.orders_filled,
                row.orders_rejected
            );
        }
        let filled: Vec<_> = fill_rows(0, &auction, &clearing)
            .into_iter()
            .filter(|r| r.filled > 0)
            .collect();
        outln!();
        outln!(
            "bidder           order     symbol   side    filled  of      price  alternative  surplus"
        );
        for row in filled.iter().take(PRINTED_FILLS) {
            outln!(
                "{:<16} {:<9} {:<8} {:<5} {:>8} {:>4} {:>10.4} {:>12} {:>8.4}",
                row.bidder,
                row.order,
                row.symbol,
                row.side,
                row.filled,
                row.quantity,
                row.price,
                row.alternative,
                row.bidder_surplus
            );
        }
        if filled.len() > PRINTED_FILLS {
            outln!(
                "... and {} more filled orders (--out writes them all)",
                filled.len() - PRINTED_FILLS
            );
        }
        if filled.is_empty() {
            outln!("(nothing fills)");
        }
    }
    let Some(out) = out else {
        return ExitCode::SUCCESS;
    };
    let format = FormatArg::table_format(format);
    match write_clearing(&auction, &clearing, &out, format) {
        Ok(files) => {
            if !quiet {
                outln!();
                for file in files {
                    outln!("wrote {}", file.display());
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            errln!("error: {error}; nothing was written to {}", out.display());
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}
