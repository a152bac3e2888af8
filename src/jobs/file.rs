//! A file passed by descriptor (`checksum_file`, `resize_file`; protocol/SPEC.md 5.7), read the
//! only way that is safe for a daemon: `pread` from offset 0 to the size `fstat` gave when the
//! request was read.
//!
//! Never `mmap`: a client that truncates the file under a mapping would get the daemon killed by
//! `SIGBUS`; with `pread` it only gets a short read, answered `bad_file`. `pread` never moves the
//! descriptor's offset, which the client shares with us. Nothing here writes.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;

use super::{JobControl, JobError};

/// A readable regular file and the size it had when its request was read.
#[derive(Debug)]
pub struct InputFile {
    file: File,
    size: u64,
}

impl InputFile {
    /// Takes ownership of `fd` (closed when this is dropped) and checks it: a regular file
    /// (`fstat`, `S_ISREG`) open for reading. Anything else is [`JobError::BadFile`].
    pub fn new(fd: OwnedFd) -> Result<Self, JobError> {
        let file = File::from(fd);
        let meta = file.metadata().map_err(|e| JobError::BadFile(format!("fstat failed: {e}")))?;
        if !meta.file_type().is_file() {
            return Err(JobError::BadFile(format!("not a regular file ({})", describe(&meta.file_type()))));
        }
        // A zero-byte pread fails with EBADF on a descriptor not open for reading (O_WRONLY,
        // O_PATH), so an empty write-only file is refused too, not digested.
        file.read_at(&mut [], 0).map_err(|e| JobError::BadFile(format!("not readable: {e}")))?;
        Ok(InputFile { file, size: meta.len() })
    }

    /// The size `fstat` gave when the request was read; reading stops there.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Fills `buf` from `offset`. End of file first is a short read (the file shrank):
    /// [`JobError::BadFile`].
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<(), JobError> {
        self.file.read_exact_at(buf, offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                JobError::BadFile(format!("short read at offset {offset}: the file shrank while being read"))
            } else {
                JobError::BadFile(format!("read at offset {offset} failed: {e}"))
            }
        })
    }

    /// `Err` when the file's size is no longer the one it was read to.
    pub fn check_unchanged(&self) -> Result<(), JobError> {
        let now = self.file.metadata().map_err(|e| JobError::BadFile(format!("fstat failed: {e}")))?.len();
        if now != self.size {
            return Err(JobError::BadFile(format!("file size changed from {} to {now} while being read", self.size)));
        }
        Ok(())
    }

    /// The whole file in one buffer (for `resize_file`, whose size the caller bounded by
    /// `max_frame` and reserved). Checks `ctl` before and after.
    pub fn read_all(&self, ctl: &JobControl) -> Result<Vec<u8>, JobError> {
        ctl.check("read")?;
        let len = usize::try_from(self.size).map_err(|_| JobError::BadFile("file too large to read".into()))?;
        let mut buf = vec![0; len];
        self.read_exact_at(&mut buf, 0)?;
        self.check_unchanged()?;
        ctl.check("decode")?;
        Ok(buf)
    }
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a pipe"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_with(bytes: &[u8]) -> (tempfile::NamedTempFile, OwnedFd) {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(bytes).unwrap();
        let fd = File::open(tmp.path()).unwrap().into();
        (tmp, fd)
    }

    #[test]
    fn a_regular_file_is_read_whole_and_its_offset_is_left_alone() {
        let (_tmp, fd) = temp_with(b"hello file");
        let file = InputFile::new(fd).unwrap();
        assert_eq!(file.size(), 10);
        assert_eq!(file.read_all(&JobControl::unbounded()).unwrap(), b"hello file");
        use std::io::Seek;
        assert_eq!((&file.file).stream_position().unwrap(), 0, "pread does not move the offset");
    }

    #[test]
    fn a_directory_a_pipe_or_a_write_only_file_is_bad_file() {
        let dir = File::open(std::env::temp_dir()).unwrap();
        assert!(matches!(InputFile::new(dir.into()), Err(JobError::BadFile(m)) if m.contains("directory")));
        let (read, _write) = std::io::pipe().unwrap();
        assert!(matches!(InputFile::new(read.into()), Err(JobError::BadFile(m)) if m.contains("pipe")));
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let write_only = std::fs::OpenOptions::new().write(true).open(tmp.path()).unwrap();
        assert!(matches!(InputFile::new(write_only.into()), Err(JobError::BadFile(m)) if m.contains("readable")));
    }

    #[test]
    fn a_file_that_shrinks_or_grows_is_bad_file() {
        let (tmp, fd) = temp_with(&[7; 4096]);
        let file = InputFile::new(fd).unwrap();
        tmp.as_file().set_len(100).unwrap();
        assert!(matches!(file.read_all(&JobControl::unbounded()), Err(JobError::BadFile(m)) if m.contains("short")));
        tmp.as_file().set_len(8192).unwrap();
        assert!(matches!(file.read_all(&JobControl::unbounded()), Err(JobError::BadFile(m)) if m.contains("changed")));
    }
}
