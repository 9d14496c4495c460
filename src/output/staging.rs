//! An output directory whose files appear all together or not at all: every file is
//! written in a hidden staging directory beside it (`.{name}.staging-{pid}@{host}-…`) and
//! renamed into place by one commit, so the output directory never holds a partial file.
//! A run killed outright leaves its staging behind; the next run on the same host into
//! the same directory (or `dealersim clean`, from anywhere) removes it. Another host's
//! staging is left alone: its process cannot be looked up from here.
//!
//! [`StagedOutput`] knows nothing of what the files hold; tables (`table.rs`) and small
//! files (manifests, resolved scenarios) are both staged through it.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use super::error::OutputError;

pub(crate) fn io_error(action: &'static str, path: &Path, error: io::Error) -> OutputError {
    OutputError::Io {
        action,
        path: path.to_path_buf(),
        error,
    }
}

/// A file written under a temporary name, waiting for commit.
#[derive(Debug)]
struct Staged {
    // Removes the temporary when dropped, which is what makes abandoning a run clean.
    temp: TempPath,
    final_path: PathBuf,
}

/// An output directory whose files appear all together, or not at all.
///
/// Tables and files are written under hidden temporary names in the directory and renamed to
/// their final names only by [`commit`](Self::commit). Dropping a `StagedOutput` without
/// committing removes every staged temporary.
#[derive(Debug)]
pub struct StagedOutput {
    dir: PathBuf,
    staged: Vec<Staged>,
    // Declared after `staged`, so the files are removed before their directory.
    staging: tempfile::TempDir,
}

impl StagedOutput {
    /// Creates `dir` (and its parents) if needed and checks that it is a writable directory.
    ///
    /// # Errors
    ///
    /// [`OutputError::Io`] naming `dir` if it cannot be created (e.g. a parent is a regular
    /// file), exists but is not a directory, or a probe file cannot be created and removed in
    /// it.
    pub fn create(dir: &Path) -> Result<Self, OutputError> {
        fs::create_dir_all(dir).map_err(|e| io_error("create output directory", dir, e))?;
        // create_dir_all already rejects an existing non-directory; this guards against a
        // symlink race and gives a clearer message if it ever happens.
        let meta = fs::metadata(dir).map_err(|e| io_error("inspect output directory", dir, e))?;
        if !meta.is_dir() {
            return Err(io_error(
                "use as output directory",
                dir,
                io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        // Permission bits are not the whole story (root, ACLs, read-only mounts), so try it.
        let probe = tempfile::Builder::new()
            .prefix(".probe-")
            .tempfile_in(dir)
            .map_err(|e| io_error("write to output directory", dir, e))?;
        probe
            .close()
            .map_err(|e| io_error("remove probe file from output directory", dir, e))?;
        // Runs killed outright (SIGKILL, power loss) leave their staging behind; this run
        // removes theirs before making its own.
        for stale in remove_stale_staging(dir, false) {
            tracing::info!(
                "removed the staging of an interrupted run: {}",
                stale.display()
            );
        }
        let staging = create_staging(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            staged: Vec::new(),
            staging,
        })
    }

    /// The staging directory beside the output directory, where files wait for the commit.
    pub fn staging_dir(&self) -> &Path {
        self.staging.path()
    }

    /// The output directory, as given to [`create`](Self::create).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Claims `file_name` in the directory and creates its hidden temporary: the file to
    /// write, the temporary's path (which deletes the file when dropped) and the final
    /// path. Hand both paths back with [`add_staged`](Self::add_staged) once written.
    ///
    /// # Errors
    /// [`OutputError::InvalidName`], [`OutputError::Duplicate`] if the name is already
    /// staged, [`OutputError::Io`] if the temporary cannot be created.
    pub fn create_staged_file(
        &self,
        file_name: &str,
    ) -> Result<(File, TempPath, PathBuf), OutputError> {
        validate_name(file_name)?;
        let final_path = self.dir.join(file_name);
        self.ensure_not_staged(&final_path)?;
        let (file, temp) = create_temp(self.staging.path(), file_name)?;
        Ok((file, temp, final_path))
    }

    /// Registers a written temporary for commit under `final_path`. A final name already
    /// staged is accepted here and rejected by [`commit`](Self::commit).
    pub fn add_staged(&mut self, temp: TempPath, final_path: PathBuf) {
        self.staged.push(Staged { temp, final_path });
    }

    /// Stages a small file written whole (e.g. `manifest.json`, `scenario.ron`).
    ///
    /// The bytes are written and synced to a temporary file now; the file appears under
    /// `dir/{name}` on commit.
    ///
    /// # Errors
    ///
    /// [`OutputError::InvalidName`] if `name` is not a plain file name,
    /// [`OutputError::Duplicate`] if it is already staged, and [`OutputError::Io`] if the
    /// temporary cannot be created, written or synced.
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), OutputError> {
        validate_name(name)?;
        let final_path = self.dir.join(name);
        self.ensure_not_staged(&final_path)?;
        let (mut file, temp) = create_temp(self.staging.path(), name)?;
        file.write_all(bytes)
            .map_err(|e| io_error("write staged file", &final_path, e))?;
        file.sync_all()
            .map_err(|e| io_error("sync staged file", &final_path, e))?;
        self.staged.push(Staged { temp, final_path });
        Ok(())
    }

    /// Renames every staged file to its final name; returns the final paths in staging order.
    ///
    /// The contents were synced when each file was finished; after the renames the directory
    /// itself is synced so that the new names survive a crash. Renames replace existing files
    /// of the same name and happen one after another; if one fails, the files already renamed
    /// by this call are removed again (best effort) and the remaining temporaries are deleted.
    ///
    /// # Errors
    ///
    /// [`OutputError::Duplicate`] (before anything is renamed) if two staged files share a
    /// final name, and [`OutputError::Io`] if a rename or the directory sync fails.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, OutputError> {
        for (i, staged) in self.staged.iter().enumerate() {
            if self.staged[..i]
                .iter()
                .any(|earlier| earlier.final_path == staged.final_path)
            {
                return Err(OutputError::Duplicate {
                    path: staged.final_path.clone(),
                });
            }
        }

        let staged = std::mem::take(&mut self.staged);
        let mut committed: Vec<PathBuf> = Vec::with_capacity(staged.len());
        // Dropping the rest of the iterator on an early return deletes the remaining temporaries.
        for Staged { temp, final_path } in staged {
            if let Err(e) = temp.persist(&final_path) {
                roll_back(&committed);
                return Err(io_error("rename staged file to", &final_path, e.error));
            }
            committed.push(final_path);
        }

        let mut dirs: Vec<&Path> = Vec::new();
        for path in &committed {
            let parent = path.parent().unwrap_or(Path::new("."));
            if !dirs.contains(&parent) {
                dirs.push(parent);
            }
        }
        for dir in dirs {
            if let Err(e) = sync_dir(dir) {
                roll_back(&committed);
                return Err(io_error("sync output directory", dir, e));
            }
        }
        Ok(committed)
    }

    fn ensure_not_staged(&self, final_path: &Path) -> Result<(), OutputError> {
        if self.staged.iter().any(|s| s.final_path == final_path) {
            return Err(OutputError::Duplicate {
                path: final_path.to_path_buf(),
            });
        }
        Ok(())
    }
}

fn roll_back(committed: &[PathBuf]) {
    for path in committed {
        // Best effort: the commit error being returned is the one worth reporting.
        let _ = fs::remove_file(path);
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        // Some filesystems cannot fsync a directory; the renames are still atomic there.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Directories cannot be opened for syncing on this platform.
    Ok(())
}

/// Rejects names that would escape the directory, be hidden, or clash with temporaries.
pub(crate) fn validate_name(name: &str) -> Result<(), OutputError> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.contains(['/', '\\']) {
        Some("contains a path separator")
    } else if name.starts_with('.') {
        Some("starts with `.` (reserved for temporaries)")
    } else if name.contains('\0') {
        Some("contains a NUL byte")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(OutputError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Where the staging of output directory `dir` may live, in order of preference:
/// beside it (its parent, prefix `.{dir name}.staging-`), and inside it (prefix
/// `.staging-`) for when the parent cannot be written or is another file system (a
/// mount point), where a rename into `dir` would fail. The path is made absolute first,
/// so `.`, `..` and `a/..` name the directory itself.
fn staging_places(dir: &Path) -> Vec<(PathBuf, String)> {
    let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut places = Vec::new();
    if let (Some(parent), Some(name)) = (real.parent(), real.file_name()) {
        places.push((
            parent.to_path_buf(),
            format!(".{}.staging-", name.to_string_lossy()),
        ));
    }
    places.push((real, ".staging-".to_string()));
    places
}

/// Whether `a` and `b` are on one file system (a rename between them works).
fn same_file_system(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (fs::metadata(a), fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        true
    }
}

/// The run's staging directory: beside `dir` when it can be, else inside it.
fn create_staging(dir: &Path) -> Result<tempfile::TempDir, OutputError> {
    let owner = format!("{}@{}-", std::process::id(), host_name());
    let places = staging_places(dir);
    let last = places.len() - 1;
    for (i, (parent, prefix)) in places.into_iter().enumerate() {
        if i < last && !same_file_system(&parent, dir) {
            continue;
        }
        match tempfile::Builder::new()
            .prefix(&format!("{prefix}{owner}"))
            .tempdir_in(&parent)
        {
            Ok(staging) => return Ok(staging),
            Err(e) if i == last => return Err(io_error("create staging directory for", dir, e)),
            Err(_) => continue,
        }
    }
    Err(io_error(
        "create staging directory for",
        dir,
        io::Error::other("no place to stage"),
    ))
}

/// Removes the staging directories that runs into `dir` left behind (beside it or inside
/// it): those of this host whose process is gone (signal 0 on Unix; elsewhere a process
/// is taken to be alive), or every one but this process's when `force` is set. Returns what was removed; failures are logged, not fatal.
pub fn remove_stale_staging(dir: &Path, force: bool) -> Vec<PathBuf> {
    let own = std::process::id();
    let mut removed = Vec::new();
    for (parent, prefix) in staging_places(dir) {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        remove_stale_in(entries, &prefix, own, force, &mut removed);
    }
    removed
}

fn remove_stale_in(
    entries: fs::ReadDir,
    prefix: &str,
    own: u32,
    force: bool,
    removed: &mut Vec<PathBuf>,
) {
    let host = host_name();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let stale = match staging_owner(rest) {
            // Another machine's run (a shard on another node writing to a shared file
            // system): its process cannot be looked up from here, so only `clean` may
            // remove it.
            Some((_, Some(owner_host))) if owner_host != host => force,
            Some((pid, _)) if pid == own => false,
            Some((pid, _)) => force || !process_alive(pid),
            None => force,
        };
        if stale {
            let path = entry.path();
            match fs::remove_dir_all(&path) {
                Ok(()) => removed.push(path),
                Err(error) => tracing::warn!("cannot remove {}: {error}", path.display()),
            }
        }
    }
}

/// The process id and host of a staging directory's name after its prefix:
/// `{pid}@{host}-{random}`, or `{pid}-{random}` as written before hosts were recorded.
fn staging_owner(rest: &str) -> Option<(u32, Option<&str>)> {
    match rest.split_once('@') {
        Some((pid, after)) => {
            let host = &after[..after.rfind('-')?];
            Some((pid.parse().ok()?, Some(host)))
        }
        None => Some((rest.split('-').next()?.parse().ok()?, None)),
    }
}

/// This machine's name as it goes into staging names: letters, digits and dots kept,
/// anything else `_`, at most 64 chars ("localhost" where there is none).
fn host_name() -> String {
    // Asked of the system once per process.
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(read_host_name).clone()
}

fn read_host_name() -> String {
    #[cfg(unix)]
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    #[cfg(not(unix))]
    let name = std::env::var("COMPUTERNAME").unwrap_or_default();
    let clean: String = name
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

/// Whether process `pid` is running: signal 0 to it (the kernel checks the process
/// exists and sends nothing), so this works wherever there is no `/proc` (macOS, BSDs).
/// A process of another user answers EPERM, and counts as alive; where it cannot be
/// told at all it is assumed to be, so nothing of a live run is ever removed.
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Some(pid) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        !matches!(
            rustix::process::test_kill_process(pid),
            Err(rustix::io::Errno::SRCH)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Creates `dir/.{file_name}.tmp-XXXXXX`; the returned [`TempPath`] deletes it when dropped.
fn create_temp(dir: &Path, file_name: &str) -> Result<(File, TempPath), OutputError> {
    let prefix = format!(".{file_name}.tmp-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    // tempfile defaults to 0600; output files should get the usual umask-derived mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let named = builder
        .tempfile_in(dir)
        .map_err(|e| io_error("create temporary file in", dir, e))?;
    Ok(named.into_parts())
}

// The tests spawn `true` to get a dead pid: Unix only.
#[cfg(all(test, unix))]
mod tests {
    use super::process_alive;

    #[test]
    fn a_live_process_is_alive_and_a_reaped_one_is_not() {
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("reap");
        // The pid could be reused at once only by a machine spawning processes at a furious
        // rate; a reaped child is otherwise gone.
        assert!(!process_alive(pid));
        // pid 0 and pids beyond i32 are never a run's.
        assert!(!process_alive(u32::MAX));
    }

    #[test]
    fn staging_names_carry_their_owner() {
        use super::staging_owner;
        assert_eq!(
            staging_owner("123@node-7.cluster-ab12CD"),
            Some((123, Some("node-7.cluster")))
        );
        assert_eq!(staging_owner("123-ab12CD"), Some((123, None)));
        assert_eq!(staging_owner("x@node-ab"), None);
        assert_eq!(staging_owner("123@nodash"), None);
        assert_eq!(staging_owner(""), None);
    }

    #[test]
    fn another_hosts_staging_is_left_alone_unless_forced() {
        let parent = tempfile::tempdir().expect("temp dir");
        let out = parent.path().join("out");
        std::fs::create_dir(&out).expect("out");
        // A dead pid on this host (a reaped child's), and a (for all we know live) run
        // on another node.
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let dead = child.id();
        child.wait().expect("reap");
        let mine = parent
            .path()
            .join(format!(".out.staging-{dead}@{}-aaaaaa", super::host_name()));
        let theirs = parent.path().join(".out.staging-1@some-other-node-bbbbbb");
        std::fs::create_dir(&mine).expect("mine");
        std::fs::create_dir(&theirs).expect("theirs");
        let removed = super::remove_stale_staging(&out, false);
        assert_eq!(removed.len(), 1);
        assert!(!mine.exists() && theirs.exists());
        super::remove_stale_staging(&out, true);
        assert!(!theirs.exists());
    }
}
