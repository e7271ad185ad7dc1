//! A ZIP archive written as a stream: each entry's bytes go out as soon as the entry is
//! made, and only the small central directory is kept until the end, so Download All of a
//! thousand invoices holds one PDF in memory at a time. Entries are stored, not deflated:
//! PDFs are compressed already. Names are UTF-8 (flag bit 11), so "Fatura São Paulo.pdf"
//! opens as written everywhere.

/// More entries than this would need ZIP64; a download that large is refused.
pub const MAX_ENTRIES: usize = 65_535;
const MAX_OFFSET: u64 = u32::MAX as u64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    #[error("a ZIP holds at most {MAX_ENTRIES} files here")]
    TooManyEntries,
    #[error("the archive would be larger than 4 GiB")]
    TooLarge,
    #[error("the file name {0:?} cannot be used")]
    BadName(String),
}

struct Central {
    name: Vec<u8>,
    crc: u32,
    size: u32,
    offset: u32,
}

/// Writes an archive entry by entry. Each call returns the bytes to send next.
pub struct ZipStream {
    entries: Vec<Central>,
    offset: u64,
    dos_time: u16,
    dos_date: u16,
}

/// A file name safe inside an archive: no folders, no control characters.
pub fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.');
    if trimmed.is_empty() {
        "file".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// MS-DOS date and time of a Unix time (seconds, UTC).
fn dos(unix_s: i64) -> (u16, u16) {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    let (y, m, d) = crate::locale::civil(days);
    let (m, d) = (i64::from(m), i64::from(d));
    let y = y.clamp(1980, 2107);
    let time = ((secs / 3600) << 11) | (((secs % 3600) / 60) << 5) | ((secs % 60) / 2);
    let date = ((y - 1980) << 9) | (m << 5) | d;
    (
        u16::try_from(time).unwrap_or(0),
        u16::try_from(date).unwrap_or(0),
    )
}

impl ZipStream {
    /// An archive whose entries carry `unix_s` as their time.
    pub fn new(unix_s: i64) -> Self {
        let (dos_time, dos_date) = dos(unix_s);
        Self {
            entries: Vec::new(),
            offset: 0,
            dos_time,
            dos_date,
        }
    }

    /// How many entries were written.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// One stored file: its local header followed by its bytes.
    pub fn entry(&mut self, name: &str, data: &[u8]) -> Result<Vec<u8>, ZipError> {
        if self.entries.len() >= MAX_ENTRIES {
            return Err(ZipError::TooManyEntries);
        }
        let name = safe_name(name).into_bytes();
        let name_len = u16::try_from(name.len()).map_err(|_| {
            ZipError::BadName(String::from_utf8_lossy(&name[..64.min(name.len())]).into_owned())
        })?;
        let size = u32::try_from(data.len()).map_err(|_| ZipError::TooLarge)?;
        let offset = u32::try_from(self.offset).map_err(|_| ZipError::TooLarge)?;
        let crc = crc32fast::hash(data);
        let mut out = Vec::with_capacity(30 + name.len() + data.len());
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&(1u16 << 11).to_le_bytes()); // UTF-8 names
        out.extend_from_slice(&0u16.to_le_bytes()); // stored
        out.extend_from_slice(&self.dos_time.to_le_bytes());
        out.extend_from_slice(&self.dos_date.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&name);
        out.extend_from_slice(data);
        let next = self.offset + out.len() as u64;
        if next > MAX_OFFSET {
            return Err(ZipError::TooLarge);
        }
        self.offset = next;
        self.entries.push(Central {
            name,
            crc,
            size,
            offset,
        });
        Ok(out)
    }

    /// The central directory and its end record: the archive's last bytes.
    pub fn finish(self) -> Result<Vec<u8>, ZipError> {
        let mut out = Vec::with_capacity(self.entries.len() * 64 + 22);
        for e in &self.entries {
            out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            out.extend_from_slice(&0x031eu16.to_le_bytes()); // made by: Unix, 3.0
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&(1u16 << 11).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&self.dos_time.to_le_bytes());
            out.extend_from_slice(&self.dos_date.to_le_bytes());
            out.extend_from_slice(&e.crc.to_le_bytes());
            out.extend_from_slice(&e.size.to_le_bytes());
            out.extend_from_slice(&e.size.to_le_bytes());
            out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes()); // extra
            out.extend_from_slice(&0u16.to_le_bytes()); // comment
            out.extend_from_slice(&0u16.to_le_bytes()); // disk
            out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            out.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes()); // -rw-r--r--
            out.extend_from_slice(&e.offset.to_le_bytes());
            out.extend_from_slice(&e.name);
        }
        let count = u16::try_from(self.entries.len()).map_err(|_| ZipError::TooManyEntries)?;
        let dir_size = u32::try_from(out.len()).map_err(|_| ZipError::TooLarge)?;
        let dir_offset = u32::try_from(self.offset).map_err(|_| ZipError::TooLarge)?;
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&dir_size.to_le_bytes());
        out.extend_from_slice(&dir_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_folders_and_control_characters() {
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_name("Fatura São Paulo.pdf"), "Fatura São Paulo.pdf");
        assert_eq!(safe_name("a\nb"), "a_b");
        assert_eq!(safe_name("..."), "file");
    }

    #[test]
    fn dos_times_follow_the_calendar() {
        // 2026-11-23 14:30:10 UTC
        let (t, d) = dos(1_795_444_210);
        assert_eq!(d >> 9, 2026 - 1980);
        assert_eq!((d >> 5) & 0xf, 11);
        assert_eq!(d & 0x1f, 23);
        assert_eq!(t >> 11, 14);
        assert_eq!((t >> 5) & 0x3f, 30);
        assert_eq!((t & 0x1f) * 2, 10);
    }

    /// The archive is checked by Debian's `unzip`, a reader we did not write.
    #[test]
    fn unzip_reads_back_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut z = ZipStream::new(1_795_444_210);
        let mut bytes = Vec::new();
        bytes.extend(z.entry("INV-2026-00001.pdf", b"%PDF-1.7 one").unwrap());
        bytes.extend(
            z.entry("Fatura São Paulo.pdf", &vec![7u8; 100_000])
                .unwrap(),
        );
        bytes.extend(z.finish().unwrap());
        let path = dir.path().join("all.zip");
        std::fs::write(&path, &bytes).unwrap();
        let out = std::process::Command::new("unzip")
            .arg("-t")
            .arg(&path)
            .output()
            .expect("unzip is installed by scripts/test");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("No errors detected"), "{text}");
        assert!(text.contains("Fatura São Paulo.pdf"), "{text}");
        let one = std::process::Command::new("unzip")
            .arg("-p")
            .arg(&path)
            .arg("INV-2026-00001.pdf")
            .output()
            .unwrap();
        assert_eq!(one.stdout, b"%PDF-1.7 one");
    }
}
