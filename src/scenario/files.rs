//! Reading the files a scenario names (the scenario itself, traces,
//! empirical samples): regular files only, under a size limit, as UTF-8.
//!
//! A FIFO, a device (`/dev/zero`) or a directory is refused before it is
//! opened, so nothing blocks or reads without end.

use std::io::Read;
use std::path::Path;

/// Largest scenario file: far beyond any hand-written scenario.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;
/// Largest trace or empirical sample file.
pub const MAX_DATA_BYTES: u64 = 1 << 30;

/// The text of the regular file at `path`, at most `limit` bytes; the
/// error says what was expected and what was found.
pub fn read_text_file(path: &Path, limit: u64) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "a special file (device, FIFO or socket)"
        };
        return Err(format!("expected a regular file, found {what}"));
    }
    if meta.len() > limit {
        return Err(format!(
            "expected a file of at most {} MiB, found {:.1} MiB",
            limit >> 20,
            meta.len() as f64 / f64::from(1u32 << 20)
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let mut bytes = Vec::new();
    // The size can change between the check and the read: never read more.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "expected a file of at most {} MiB, found more",
            limit >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        format!(
            "expected UTF-8 text, found invalid bytes on line {line} (byte offset {})",
            valid.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_large_files_are_refused() {
        let e = read_text_file(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(
            e.contains("expected a regular file, found a special file"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let e = read_text_file(dir.path(), 1 << 20).unwrap_err();
        assert!(e.contains("found a directory"), "{e}");
        let big = dir.path().join("big.csv");
        std::fs::write(&big, vec![b'1'; 3 << 20]).unwrap();
        let e = read_text_file(&big, 2 << 20).unwrap_err();
        assert!(e.contains("at most 2 MiB, found 3.0 MiB"), "{e}");
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, b"a = 1\nb = \xff\n").unwrap();
        let e = read_text_file(&bad, 1 << 20).unwrap_err();
        assert!(e.contains("on line 2"), "{e}");
    }
}
