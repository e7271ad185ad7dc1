//! Two old forms some senders still use, read here because the parser reads them wrong or
//! not at all: a file uuencoded inside the text (`begin 644 PEDIDO.PDF` … `end`, as Unix
//! `mailx` and old ERPs send it), and UTF-7 text (RFC 2152, Outlook Express's choice for
//! some Portuguese and Spanish systems). Pure and bounded: one pass over the text.

/// A file found uuencoded inside a message's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UuFile {
    pub name: String,
    pub data: Vec<u8>,
}

/// The text without its uuencoded blocks, and the files they hold; `None` when it holds
/// none. A block that does not decode whole (a line of the wrong length, no `end`) stays in
/// the text as it is: nothing the sender wrote is dropped for a guess.
pub fn uu_blocks(text: &str) -> Option<(String, Vec<UuFile>)> {
    if !text.contains("begin ") {
        return None;
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut kept = String::with_capacity(text.len());
    let mut files = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        if let Some(name) = begin_line(lines[at])
            && let Some((data, end)) = uu_body(&lines, at + 1)
        {
            files.push(UuFile {
                name: name.to_owned(),
                data,
            });
            at = end;
            continue;
        }
        kept.push_str(lines[at]);
        at += 1;
    }
    if files.is_empty() {
        return None;
    }
    // The blank lines the block leaves at the end of the text are not text.
    let trimmed = kept.trim_end().len();
    kept.truncate(trimmed);
    if text.ends_with('\n') && !kept.is_empty() {
        kept.push('\n');
    }
    Some((kept, files))
}

/// `begin 644 name`: the file's name, when the line is one.
fn begin_line(line: &str) -> Option<&str> {
    let rest = line.trim_end().strip_prefix("begin ")?;
    let (mode, name) = rest.split_once(' ')?;
    let octal = (3..=4).contains(&mode.len()) && mode.bytes().all(|b| (b'0'..=b'7').contains(&b));
    let name = name.trim();
    (octal && !name.is_empty()).then_some(name)
}

/// The bytes of the lines from `start` to the block's `end`, and the index after it.
fn uu_body(lines: &[&str], start: usize) -> Option<(Vec<u8>, usize)> {
    let mut data = Vec::new();
    for (index, raw) in lines.iter().enumerate().skip(start) {
        let line = raw.trim_end_matches(['\r', '\n']);
        if line == "end" {
            return Some((data, index + 1));
        }
        let bytes = line.as_bytes();
        let &first = bytes.first()?;
        let len = usize::from(first.wrapping_sub(b' ') & 0x3f);
        if len == 0 {
            continue;
        }
        let chars = &bytes[1..];
        // Four characters per three bytes; some encoders drop trailing spaces (zeros),
        // some add a checksum character.
        let needed = len.div_ceil(3) * 4;
        if len > 45 || chars.len() + 2 < needed || chars.len() > needed + 1 {
            return None;
        }
        let sextet = |i: usize| -> Option<u8> {
            let c = chars.get(i).copied().unwrap_or(b' ');
            (b' '..=b'`')
                .contains(&c)
                .then(|| c.wrapping_sub(b' ') & 0x3f)
        };
        let mut out = Vec::with_capacity(len + 2);
        for group in 0..len.div_ceil(3) {
            let s: Vec<u8> = (0..4)
                .map(|k| sextet(group * 4 + k))
                .collect::<Option<_>>()?;
            out.push((s[0] << 2) | (s[1] >> 4));
            out.push((s[1] << 4) | (s[2] >> 2));
            out.push((s[2] << 6) | s[3]);
        }
        out.truncate(len);
        data.extend_from_slice(&out);
    }
    None
}

/// Whether a charset label names UTF-7.
pub fn is_utf7(label: &str) -> bool {
    ["utf-7", "utf7", "unicode-1-1-utf-7", "x-unicode-2-0-utf-7"]
        .iter()
        .any(|u| label.trim().eq_ignore_ascii_case(u))
}

/// Bytes in a labelled charset read as text: UTF-7 by [`utf7`] (the parser's own decoder
/// drops the character that closes an encoded run), any other label by the parser's
/// decoders; `None` for a label none knows.
pub fn decode(label: &str, bytes: &[u8]) -> Option<String> {
    if is_utf7(label) {
        return utf7(bytes);
    }
    mail_parser::decoders::charsets::map::charset_decoder(label.trim().as_bytes())
        .map(|decode| decode(bytes))
}

/// UTF-7 (RFC 2152) decoded: `+` opens modified base64 of UTF-16, which any character
/// outside base64 closes, a `-` closing it being absorbed; `+-` is a plus sign. `None` when
/// a run is not UTF-16 at all.
pub fn utf7(bytes: &[u8]) -> Option<String> {
    let value = |b: u8| -> Option<u32> {
        Some(u32::from(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = String::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let b = bytes[at];
        at += 1;
        if b != b'+' {
            out.push(char::from(b));
            continue;
        }
        if bytes.get(at) == Some(&b'-') {
            out.push('+');
            at += 1;
            continue;
        }
        let (mut bits, mut held, mut units) = (0u32, 0u32, Vec::new());
        while let Some(v) = bytes.get(at).copied().and_then(value) {
            bits = (bits << 6) | v;
            held += 6;
            if held >= 16 {
                held -= 16;
                units.push(((bits >> held) & 0xffff) as u16);
            }
            at += 1;
        }
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        out.push_str(&String::from_utf16(&units).ok()?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// uuencode as `uuencode(1)` writes it, for the tests.
    fn uuencode(name: &str, data: &[u8]) -> String {
        let ch = |v: u8| if v == 0 { '`' } else { char::from(v + b' ') };
        let mut out = format!("begin 644 {name}\n");
        for chunk in data.chunks(45) {
            out.push(ch(chunk.len() as u8));
            for group in chunk.chunks(3) {
                let g = [
                    group[0],
                    *group.get(1).unwrap_or(&0),
                    *group.get(2).unwrap_or(&0),
                ];
                out.push(ch(g[0] >> 2));
                out.push(ch(((g[0] << 4) | (g[1] >> 4)) & 0x3f));
                out.push(ch(((g[1] << 2) | (g[2] >> 6)) & 0x3f));
                out.push(ch(g[2] & 0x3f));
            }
            out.push('\n');
        }
        out.push_str("`\nend\n");
        out
    }

    #[test]
    fn a_uuencoded_file_leaves_the_text_and_comes_back_whole() {
        for size in [0usize, 1, 2, 3, 44, 45, 46, 90, 1000] {
            let data: Vec<u8> = (0..size).map(|i| (i * 37 % 256) as u8).collect();
            let text = format!(
                "Segue o pedido.\n\nOsvaldo\n\n{}",
                uuencode("PEDIDO 4471.PDF", &data)
            );
            let (kept, files) = uu_blocks(&text).unwrap();
            assert_eq!(kept, "Segue o pedido.\n\nOsvaldo\n", "{size}");
            assert_eq!(files.len(), 1);
            assert_eq!(files[0].name, "PEDIDO 4471.PDF");
            assert_eq!(files[0].data, data, "{size}");
        }
    }

    #[test]
    fn words_about_beginning_and_broken_blocks_stay_text() {
        for text in [
            "We begin 644 tests tomorrow.\n",
            "begin 644 a.pdf\nM this is not uuencode\nend\n",
            "begin 644 a.pdf\n#86)C\n",
            "begin now\nend\n",
        ] {
            assert_eq!(uu_blocks(text), None, "{text}");
        }
        // A block cut before its end: the text keeps it.
        let cut = uuencode("a.bin", b"hello world");
        let cut = cut.trim_end_matches("`\nend\n");
        assert_eq!(uu_blocks(cut), None);
    }

    #[test]
    fn utf7_runs_close_on_any_other_character() {
        let cases = [
            ("De manh+AOM as salas", "De manhã as salas"),
            ("est+AOM-o", "estão"),
            ("J+AOE trocamos", "Já trocamos"),
            ("1 +- 1", "1 + 1"),
            ("Jos+AOk\nAnt+APQ-nio", "José\nAntônio"),
            ("a+ZeVnLIqe-b", "a日本語b"),
            ("+2D3eAA-", "\u{1F600}"),
        ];
        for (raw, want) in cases {
            assert_eq!(utf7(raw.as_bytes()).as_deref(), Some(want), "{raw}");
        }
        // A lone surrogate is not text.
        assert_eq!(utf7(b"+2D0-"), None);
    }
}
