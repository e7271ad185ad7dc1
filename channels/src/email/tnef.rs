//! Outlook's TNEF (`application/ms-tnef`, the `winmail.dat` a client cannot open) read for
//! what its sender meant a reader to see: the files inside it, and the message's text when
//! the mail carries it nowhere else. The stream is [MS-OXTNEF] (attributes with checksums,
//! MAPI properties), the text may be compressed RTF [MS-OXRTFCP], and that RTF may carry the
//! HTML the sender wrote [MS-OXRTFEX].
//!
//! Pure and bounded: one pass over the bytes, every length checked against what is left, no
//! allocation larger than the input (or, for compressed RTF, than what it says it holds,
//! capped). A stream that does not read whole is `None`, and the caller offers the
//! `winmail.dat` as it came: nothing of it is lost.

const SIGNATURE: u32 = 0x223E_9F78;
/// Attributes, by the low half of their id (the high half is their type).
const ATT_BODY: u32 = 0x800C;
const ATT_ATTACH_DATA: u32 = 0x800F;
const ATT_ATTACH_TITLE: u32 = 0x8010;
const ATT_ATTACH_REND_DATA: u32 = 0x9002;
const ATT_MSG_PROPS: u32 = 0x9003;
const ATT_ATTACHMENT: u32 = 0x9005;
const ATT_OEM_CODEPAGE: u32 = 0x9007;
/// MAPI properties.
const PR_BODY: u16 = 0x1000;
const PR_RTF_COMPRESSED: u16 = 0x1009;
const PR_BODY_HTML: u16 = 0x1013;
const PR_DISPLAY_NAME: u16 = 0x3001;
const PR_ATTACH_DATA: u16 = 0x3701;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_ATTACH_METHOD: u16 = 0x3705;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PR_ATTACH_MIME_TAG: u16 = 0x370E;
const PR_ATTACH_CONTENT_ID: u16 = 0x3712;
const PR_INTERNET_CPID: u16 = 0x3FDE;
/// Property types.
const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000D;
/// A server id: sized like a binary.
const PT_SVREID: u16 = 0x00FB;
/// The most a compressed RTF body is allowed to say it holds.
const MAX_RTF: usize = 16 * 1024 * 1024;

/// A TNEF stream as read.
#[derive(Debug, Default)]
pub struct Tnef<'a> {
    /// The files inside, in their order in the stream.
    pub files: Vec<TnefFile<'a>>,
    /// Something inside is not a file that can be offered as such (an attached Outlook
    /// item, an OLE object): the stream itself should be offered too.
    pub kept_inside: bool,
    body: Option<String>,
    html: Option<(u16, &'a [u8])>,
    rtf: Option<&'a [u8]>,
    codepage: u32,
    body_codepage: Option<u32>,
}

/// One file inside a TNEF stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TnefFile<'a> {
    pub name: String,
    pub mime: String,
    pub data: &'a [u8],
    pub content_id: Option<String>,
}

#[derive(Default)]
struct Pending<'a> {
    title: Option<String>,
    long_name: Option<String>,
    short_name: Option<String>,
    display: Option<String>,
    mime: Option<String>,
    content_id: Option<String>,
    data: Option<&'a [u8]>,
    method: Option<u32>,
}

/// Reads a TNEF stream; `None` when it is not one or does not read whole (cut, a checksum
/// that does not add up, a length past its end).
pub fn read(b: &[u8]) -> Option<Tnef<'_>> {
    let mut r = Bytes { b, at: 0 };
    if r.u32()? != SIGNATURE {
        return None;
    }
    r.take(2)?; // the legacy key
    let mut tnef = Tnef {
        codepage: 1252,
        ..Tnef::default()
    };
    let mut pending: Vec<Pending<'_>> = Vec::new();
    while !r.done() {
        let level = r.u8()?;
        let id = r.u32()? & 0xFFFF;
        let len = r.u32()? as usize;
        let data = r.take(len)?;
        let sum = r.u16()?;
        if !matches!(level, 1 | 2) || checksum(data) != sum {
            return None;
        }
        match id {
            ATT_OEM_CODEPAGE => {
                tnef.codepage = Bytes { b: data, at: 0 }.u32()?;
            }
            ATT_BODY if level == 1 => {
                tnef.body = Some(string8(trim_nul(data), tnef.codepage));
            }
            ATT_MSG_PROPS if level == 1 => {
                let codepage = tnef.codepage;
                // A property this reader cannot size ends the reading of that attribute
                // only: the files are still there.
                let _ = properties(data, |id, ty, value| match (id, value) {
                    (PR_BODY, Value::Bytes(v)) => {
                        tnef.body = Some(text(ty, v, codepage));
                    }
                    (PR_BODY_HTML, Value::Bytes(v)) => tnef.html = Some((ty, v)),
                    (PR_RTF_COMPRESSED, Value::Bytes(v)) => tnef.rtf = Some(v),
                    (PR_INTERNET_CPID, Value::Int(cp)) => tnef.body_codepage = Some(cp),
                    _ => {}
                });
            }
            ATT_ATTACH_REND_DATA => pending.push(Pending::default()),
            ATT_ATTACH_TITLE | ATT_ATTACH_DATA | ATT_ATTACHMENT if level == 2 => {
                if pending.is_empty() {
                    pending.push(Pending::default());
                }
                let codepage = tnef.codepage;
                let file = pending.last_mut()?;
                match id {
                    ATT_ATTACH_TITLE => file.title = Some(string8(trim_nul(data), codepage)),
                    ATT_ATTACH_DATA => file.data = Some(data),
                    // As above: the file keeps what was read of its names.
                    _ => drop(properties(data, |id, ty, value| match (id, value) {
                        (PR_ATTACH_LONG_FILENAME, Value::Bytes(v)) => {
                            file.long_name = Some(text(ty, v, codepage));
                        }
                        (PR_ATTACH_FILENAME, Value::Bytes(v)) => {
                            file.short_name = Some(text(ty, v, codepage));
                        }
                        (PR_DISPLAY_NAME, Value::Bytes(v)) => {
                            file.display = Some(text(ty, v, codepage));
                        }
                        (PR_ATTACH_MIME_TAG, Value::Bytes(v)) => {
                            file.mime = Some(text(ty, v, codepage));
                        }
                        (PR_ATTACH_CONTENT_ID, Value::Bytes(v)) => {
                            file.content_id = Some(text(ty, v, codepage));
                        }
                        (PR_ATTACH_METHOD, Value::Int(m)) => file.method = Some(m),
                        (PR_ATTACH_DATA, Value::Bytes(v)) if ty == PT_BINARY => {
                            file.data.get_or_insert(v);
                        }
                        (PR_ATTACH_DATA, Value::Bytes(_)) => file.method = Some(5),
                        _ => {}
                    })),
                }
            }
            _ => {}
        }
    }
    for file in pending {
        // 1 by value (and 0, "none", as some writers leave it); 2–4 by reference (a path
        // or a link: nothing here to offer); 5 an attached Outlook item; 6 an OLE object.
        match file.method.unwrap_or(1) {
            5 | 6 => {
                tnef.kept_inside = true;
                continue;
            }
            2..=4 => continue,
            _ => {}
        }
        let Some(data) = file.data else { continue };
        let name = [file.long_name, file.title, file.short_name, file.display]
            .into_iter()
            .flatten()
            .map(|n| file_name(&n))
            .find(|n| !n.is_empty())
            .unwrap_or_else(|| "attachment".to_owned());
        let mime = file
            .mime
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| m.contains('/') && !m.contains(char::is_whitespace))
            .unwrap_or_else(|| by_extension(&name).to_owned());
        let content_id = file
            .content_id
            .map(|id| id.trim().trim_matches(['<', '>']).to_owned())
            .filter(|id| !id.is_empty());
        tnef.files.push(TnefFile {
            name,
            mime,
            data,
            content_id,
        });
    }
    Some(tnef)
}

impl Tnef<'_> {
    /// The message's text as its reader sees it, when the stream carries one: the plain
    /// body, else the HTML's text, else the RTF's (with the HTML it may hold read as HTML).
    pub fn text(&self) -> Option<String> {
        let cp = self.body_codepage.unwrap_or(self.codepage);
        let text = if let Some(body) = self.body.as_ref().filter(|b| !b.trim().is_empty()) {
            body.clone()
        } else if let Some((ty, html)) = self.html {
            super::html::html_to_text(&text(ty, html, cp))
        } else {
            match rtf_text(&decompress_rtf(self.rtf?)?)? {
                Rtf::Text(t) => t,
                Rtf::Html(h) => super::html::html_to_text(&h),
            }
        };
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        (!text.trim().is_empty()).then_some(text)
    }
}

/// A name as a file is named: its last path component ("C:\\Users\\…\\foto.jpg" sent
/// as the name by some clients), without control characters, so no name reaches the store
/// with a directory in it; empty when nothing is left ("dir/", "..").
pub(crate) fn file_name(name: &str) -> String {
    let last = name.rsplit(['\\', '/']).next().unwrap_or(name);
    let clean = last
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned();
    if clean == "." || clean == ".." {
        String::new()
    } else {
        clean
    }
}

/// A file's type by its name, for files whose stream does not say.
pub(crate) fn by_extension(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xls" => "application/vnd.ms-excel",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "doc" => "application/msword",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "zip" => "application/zip",
        "xml" => "application/xml",
        "ics" => "text/calendar",
        "eml" => "message/rfc822",
        "msg" => "application/vnd.ms-outlook",
        _ => "application/octet-stream",
    }
}

fn checksum(data: &[u8]) -> u16 {
    data.iter()
        .fold(0u16, |sum, b| sum.wrapping_add(u16::from(*b)))
}

fn trim_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|c| *c != 0).map_or(0, |i| i + 1);
    &b[..end]
}

/// 8-bit text in a Windows code page.
fn string8(b: &[u8], codepage: u32) -> String {
    use mail_parser::decoders::charsets::map::charset_decoder;
    if b.is_ascii() {
        return String::from_utf8_lossy(b).into_owned();
    }
    let name = match codepage {
        65001 => return String::from_utf8_lossy(b).into_owned(),
        28591 => "iso-8859-1".to_owned(),
        28605 => "iso-8859-15".to_owned(),
        932 => "shift_jis".to_owned(),
        936 => "gbk".to_owned(),
        949 => "euc-kr".to_owned(),
        950 => "big5".to_owned(),
        20866 => "koi8-r".to_owned(),
        cp => format!("windows-{cp}"),
    };
    match charset_decoder(name.as_bytes()).or_else(|| charset_decoder(b"windows-1252")) {
        Some(decode) => decode(b),
        None => String::from_utf8_lossy(b).into_owned(),
    }
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let end = units.iter().rposition(|u| *u != 0).map_or(0, |i| i + 1);
    String::from_utf16_lossy(&units[..end])
}

fn text(ty: u16, v: &[u8], codepage: u32) -> String {
    if ty == PT_UNICODE {
        utf16(v)
    } else {
        string8(trim_nul(v), codepage)
    }
}

enum Value<'a> {
    Int(u32),
    Bytes(&'a [u8]),
    Other,
}

/// MAPI properties as TNEF writes them ([MS-OXTNEF] 2.1.3.4): a count, then each with its
/// type and id (a named property's name after it), values padded to four bytes, strings
/// and binaries as a count of values each with its length. `each` sees single values.
fn properties<'a>(data: &'a [u8], mut each: impl FnMut(u16, u16, Value<'a>)) -> Option<()> {
    let mut r = Bytes { b: data, at: 0 };
    let count = r.u32()?;
    for _ in 0..count {
        let ty = r.u16()?;
        let id = r.u16()?;
        if id >= 0x8000 {
            r.take(16)?; // the property set's GUID
            match r.u32()? {
                0 => {
                    r.take(4)?;
                }
                1 => {
                    let len = r.u32()? as usize;
                    r.take(len)?;
                    r.pad(len)?;
                }
                _ => return None,
            }
        }
        let multi = ty & 0x1000 != 0;
        let base = ty & 0x0FFF;
        let variable = matches!(
            base,
            PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT | PT_SVREID
        );
        let values = if multi || variable { r.u32()? } else { 1 };
        // Each value takes at least four bytes.
        if values as usize > r.left() / 4 + 1 {
            return None;
        }
        for _ in 0..values {
            let value = match base {
                // Integer 16, 32, float 32, error code, boolean: four bytes with padding.
                0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => {
                    let v = r.u32()?;
                    if base == 0x0002 || base == 0x000B {
                        Value::Int(v & 0xFFFF)
                    } else {
                        Value::Int(v)
                    }
                }
                // Float 64, currency, application time, integer 64, time.
                0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => {
                    r.take(8)?;
                    Value::Other
                }
                0x0048 => {
                    r.take(16)?;
                    Value::Other
                }
                PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT | PT_SVREID => {
                    let len = r.u32()? as usize;
                    let v = r.take(len)?;
                    r.pad(len)?;
                    Value::Bytes(v)
                }
                0x0001 => Value::Other, // null
                _ => return None,
            };
            if !multi {
                each(id, base, value);
            }
        }
    }
    Some(())
}

struct Bytes<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn done(&self) -> bool {
        self.at >= self.b.len()
    }
    fn left(&self) -> usize {
        self.b.len().saturating_sub(self.at)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn pad(&mut self, len: usize) -> Option<()> {
        self.take((4 - len % 4) % 4).map(|_| ())
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|s| u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
}

/// The dictionary compressed RTF starts from ([MS-OXRTFCP] 2.1.2.1).
const RTF_PREBUF: &[u8; 207] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Compressed RTF ([MS-OXRTFCP]) as the RTF it holds: `LZFu` (LZ77 over a 4 KiB window
/// that starts as [`RTF_PREBUF`]) or `MELA` (stored). The CRC is not checked: a body that
/// decompresses is read, and RTF that went wrong shows as such.
pub fn decompress_rtf(b: &[u8]) -> Option<Vec<u8>> {
    let mut r = Bytes { b, at: 0 };
    let comp_size = r.u32()? as usize;
    let raw_size = (r.u32()? as usize).min(MAX_RTF);
    let kind = r.u32()?;
    r.take(4)?; // CRC
    let end = comp_size.checked_add(4)?.min(b.len());
    let data = b.get(16..end)?;
    match kind {
        0x414C_454D => return Some(data[..raw_size.min(data.len())].to_vec()),
        0x7546_5A4C => {}
        _ => return None,
    }
    let mut dict = [0u8; 4096];
    dict[..RTF_PREBUF.len()].copy_from_slice(RTF_PREBUF);
    let mut write = RTF_PREBUF.len();
    let mut out = Vec::with_capacity(raw_size.min(data.len().saturating_mul(8)));
    let mut i = 0;
    while i < data.len() && out.len() < raw_size {
        let control = data[i];
        i += 1;
        for bit in 0..8 {
            if out.len() >= raw_size || i >= data.len() {
                break;
            }
            if control & (1 << bit) == 0 {
                let c = data[i];
                i += 1;
                out.push(c);
                dict[write] = c;
                write = (write + 1) % 4096;
            } else {
                let pair = data.get(i..i + 2)?;
                i += 2;
                let word = usize::from(u16::from_be_bytes([pair[0], pair[1]]));
                let offset = word >> 4;
                if offset == write {
                    return Some(out);
                }
                for k in 0..(word & 0xF) + 2 {
                    let c = dict[(offset + k) % 4096];
                    out.push(c);
                    dict[write] = c;
                    write = (write + 1) % 4096;
                }
            }
        }
    }
    out.truncate(raw_size);
    Some(out)
}

/// What an RTF body holds for a reader.
#[derive(Debug, PartialEq, Eq)]
pub enum Rtf {
    Text(String),
    /// The HTML an RTF body encapsulates (`\fromhtml1`, [MS-OXRTFEX]).
    Html(String),
}

/// Groups whose text a reader never sees.
const HIDDEN_GROUPS: [&str; 24] = [
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "header",
    "footer",
    "headerl",
    "headerr",
    "footerl",
    "footerr",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "xmlnstbl",
    "themedata",
    "colorschememapping",
    "latentstyles",
    "datastore",
    "fldinst",
    "filetbl",
    "revtbl",
];

#[derive(Clone, Copy)]
struct Group {
    hidden: bool,
    html_tag: bool,
    rtf_only: bool,
    skip_after_unicode: usize,
}

/// The text of an RTF body: paragraphs as lines, `\'hh` bytes in the body's code page,
/// `\uN` characters (and their stand-ins skipped), tables of fonts, colours and styles
/// unseen; or, for RTF that encapsulates HTML, that HTML (`\*\htmltag` groups and the text
/// outside `\htmlrtf` spans, [MS-OXRTFEX]). `None` when it is not RTF.
pub fn rtf_text(rtf: &[u8]) -> Option<Rtf> {
    if !rtf.trim_ascii_start().starts_with(b"{\\rtf") {
        return None;
    }
    let mut codepage = 1252u32;
    let mut from_html = false;
    let mut out = String::with_capacity(rtf.len() / 2);
    let mut bytes: Vec<u8> = Vec::new();
    let mut stack: Vec<Group> = Vec::new();
    let mut g = Group {
        hidden: false,
        html_tag: false,
        rtf_only: false,
        skip_after_unicode: 1,
    };
    let mut skip = 0usize; // stand-ins still to skip after a `\uN`
    let mut destination = false; // `\*` seen: the next word names an optional destination
    let mut group_start = false; // the next word is the group's first
    let mut i = 0;
    let shown = |g: &Group, from_html: bool| !g.hidden && (!from_html || g.html_tag || !g.rtf_only);
    while i < rtf.len() {
        let c = rtf[i];
        match c {
            b'{' => {
                flush(&mut bytes, &mut out, codepage);
                if stack.len() >= 512 {
                    return None;
                }
                stack.push(g);
                group_start = true;
                skip = 0;
                i += 1;
            }
            b'}' => {
                flush(&mut bytes, &mut out, codepage);
                let Some(outer) = stack.pop() else { break };
                if stack.is_empty() {
                    // The document's own group has closed: what follows (a writer's NUL
                    // padding) is not its text.
                    break;
                }
                g = outer;
                group_start = false;
                destination = false;
                skip = 0;
                i += 1;
            }
            b'\\' => {
                i += 1;
                let Some(&next) = rtf.get(i) else { break };
                if next.is_ascii_alphabetic() {
                    let start = i;
                    while i < rtf.len() && rtf[i].is_ascii_alphabetic() && i - start < 32 {
                        i += 1;
                    }
                    let word = std::str::from_utf8(&rtf[start..i]).unwrap_or("");
                    let num_start = i;
                    if rtf.get(i) == Some(&b'-') {
                        i += 1;
                    }
                    while i < rtf.len() && rtf[i].is_ascii_digit() && i - num_start < 11 {
                        i += 1;
                    }
                    let param: Option<i64> = std::str::from_utf8(&rtf[num_start..i])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    if rtf.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    let first = std::mem::take(&mut group_start);
                    let optional = std::mem::take(&mut destination);
                    if first && HIDDEN_GROUPS.contains(&word) {
                        g.hidden = true;
                        continue;
                    }
                    match word {
                        "htmltag" if optional => {
                            g.html_tag = true;
                            continue;
                        }
                        _ if optional => {
                            g.hidden = true;
                            continue;
                        }
                        "fromhtml" => from_html = param != Some(0),
                        "ansicpg" => {
                            flush(&mut bytes, &mut out, codepage);
                            codepage = param.and_then(|p| u32::try_from(p).ok()).unwrap_or(1252);
                        }
                        "htmlrtf" => g.rtf_only = param != Some(0),
                        "uc" => {
                            g.skip_after_unicode = param
                                .and_then(|p| usize::try_from(p).ok())
                                .unwrap_or(1)
                                .min(8);
                        }
                        _ => {}
                    }
                    if !shown(&g, from_html) {
                        continue;
                    }
                    let piece = match word {
                        "par" | "line" | "row" | "sect" | "page" => Some('\n'),
                        "tab" | "cell" => Some('\t'),
                        "emdash" => Some('—'),
                        "endash" => Some('–'),
                        "lquote" => Some('‘'),
                        "rquote" => Some('’'),
                        "ldblquote" => Some('“'),
                        "rdblquote" => Some('”'),
                        "bullet" => Some('•'),
                        "u" => {
                            let code = param.unwrap_or(0);
                            let code = if code < 0 { code + 65_536 } else { code };
                            skip = g.skip_after_unicode;
                            u32::try_from(code).ok().and_then(char::from_u32)
                        }
                        _ => None,
                    };
                    if let Some(ch) = piece {
                        flush(&mut bytes, &mut out, codepage);
                        out.push(ch);
                    }
                } else {
                    i += 1;
                    group_start = false;
                    match next {
                        b'*' => destination = true,
                        b'\'' => {
                            let hex = rtf.get(i..i + 2).and_then(|h| std::str::from_utf8(h).ok());
                            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                            if byte.is_some() {
                                i += 2;
                            }
                            if skip > 0 {
                                skip -= 1;
                            } else if let (Some(b), true) = (byte, shown(&g, from_html)) {
                                bytes.push(b);
                            }
                        }
                        b'\r' | b'\n' if shown(&g, from_html) => {
                            flush(&mut bytes, &mut out, codepage);
                            out.push('\n');
                        }
                        b'~' if shown(&g, from_html) => bytes.push(0xA0),
                        b'_' if shown(&g, from_html) => bytes.push(b'-'),
                        b'\\' | b'{' | b'}' if shown(&g, from_html) => {
                            if skip > 0 {
                                skip -= 1;
                            } else {
                                bytes.push(next);
                            }
                        }
                        _ => {}
                    }
                }
            }
            // Line ends in RTF's source are not text; nor are other control bytes.
            0..=0x1F => i += 1,
            _ => {
                group_start = false;
                if skip > 0 {
                    skip -= 1;
                } else if shown(&g, from_html) {
                    bytes.push(c);
                }
                i += 1;
            }
        }
    }
    flush(&mut bytes, &mut out, codepage);
    Some(if from_html {
        Rtf::Html(out)
    } else {
        Rtf::Text(out)
    })
}

fn flush(bytes: &mut Vec<u8>, out: &mut String, codepage: u32) {
    if !bytes.is_empty() {
        out.push_str(&string8(bytes, codepage));
        bytes.clear();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A TNEF writer for the tests, from [MS-OXTNEF]: attributes with their checksums.
    pub(crate) struct Writer(Vec<u8>);

    impl Writer {
        pub(crate) fn new() -> Self {
            let mut b = SIGNATURE.to_le_bytes().to_vec();
            b.extend_from_slice(&0x0001u16.to_le_bytes());
            let mut w = Writer(b);
            w.attr(1, 0x0008_9006, &0x0001_0000u32.to_le_bytes());
            w.attr(1, 0x0006_9007, &[0xE4, 0x04, 0, 0, 0, 0, 0, 0]);
            w
        }
        pub(crate) fn attr(&mut self, level: u8, id: u32, data: &[u8]) -> &mut Self {
            self.0.push(level);
            self.0.extend_from_slice(&id.to_le_bytes());
            self.0.extend_from_slice(&(data.len() as u32).to_le_bytes());
            self.0.extend_from_slice(data);
            self.0.extend_from_slice(&checksum(data).to_le_bytes());
            self
        }
        pub(crate) fn file(&mut self, title: &str, data: &[u8], props: &[u8]) -> &mut Self {
            self.attr(2, 0x0006_9002, &[1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]);
            let mut t = title.as_bytes().to_vec();
            t.push(0);
            self.attr(2, 0x0001_8010, &t);
            self.attr(2, 0x0006_800F, data);
            if !props.is_empty() {
                self.attr(2, 0x0006_9005, props);
            }
            self
        }
        pub(crate) fn bytes(&self) -> Vec<u8> {
            self.0.clone()
        }
    }

    /// MAPI properties: (type, id, value) with values as TNEF lays them out.
    pub(crate) fn props(list: &[(u16, u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = (list.len() as u32).to_le_bytes().to_vec();
        for (ty, id, v) in list {
            b.extend_from_slice(&ty.to_le_bytes());
            b.extend_from_slice(&id.to_le_bytes());
            if matches!(*ty, PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT) {
                b.extend_from_slice(&1u32.to_le_bytes());
                b.extend_from_slice(&(v.len() as u32).to_le_bytes());
                b.extend_from_slice(v);
                b.resize(b.len() + (4 - v.len() % 4) % 4, 0);
            } else {
                b.extend_from_slice(v);
            }
        }
        b
    }

    pub(crate) fn unicode(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    /// Compressed RTF as a writer makes it: greedy LZ77 over the same window.
    pub(crate) fn compress(raw: &[u8]) -> Vec<u8> {
        let mut dict = [0u8; 4096];
        dict[..207].copy_from_slice(RTF_PREBUF);
        let mut write = 207usize;
        let mut out = Vec::new();
        let mut i = 0;
        let mut done = false;
        while !done {
            let control_at = out.len();
            out.push(0u8);
            for bit in 0..8 {
                if i >= raw.len() {
                    // The end: a reference to the write position.
                    out[control_at] |= 1 << bit;
                    out.extend_from_slice(&((write as u16) << 4).to_be_bytes());
                    done = true;
                    break;
                }
                // The longest match in the window (not overlapping the write position).
                let (mut best, mut best_len) = (0usize, 0usize);
                for start in 0..4096 {
                    let mut len = 0;
                    while len < 17
                        && i + len < raw.len()
                        && (start + len) % 4096 != write
                        && dict[(start + len) % 4096] == raw[i + len]
                    {
                        len += 1;
                    }
                    if len > best_len && start != write {
                        (best, best_len) = (start, len);
                    }
                }
                let take = if best_len >= 2 {
                    out[control_at] |= 1 << bit;
                    out.extend_from_slice(
                        &(((best as u16) << 4) | (best_len as u16 - 2)).to_be_bytes(),
                    );
                    best_len
                } else {
                    out.push(raw[i]);
                    1
                };
                for k in 0..take {
                    dict[write] = raw[i + k];
                    write = (write + 1) % 4096;
                }
                i += take;
            }
        }
        let mut b = ((out.len() + 12) as u32).to_le_bytes().to_vec();
        b.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        b.extend_from_slice(&0x7546_5A4Cu32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&out);
        b
    }

    #[test]
    fn files_are_read_by_their_long_names_with_their_types() {
        let pdf = b"%PDF-1.4 leitura".to_vec();
        let xlsx = b"PK\x03\x04 planilha".to_vec();
        let mut w = Writer::new();
        w.file(
            "LEITUR~1.XLS",
            &xlsx,
            &props(&[(
                PT_UNICODE,
                PR_ATTACH_LONG_FILENAME,
                unicode("Relatório de leituras março.xlsx"),
            )]),
        );
        w.file(
            "COTIZA~1.PDF",
            &pdf,
            &props(&[
                (
                    PT_STRING8,
                    PR_ATTACH_LONG_FILENAME,
                    b"Cotizaci\xf3n t\xf3ner.pdf\0".to_vec(),
                ),
                (
                    PT_STRING8,
                    PR_ATTACH_MIME_TAG,
                    b"application/pdf\0".to_vec(),
                ),
                (0x0003, PR_ATTACH_METHOD, 1u32.to_le_bytes().to_vec()),
            ]),
        );
        w.file("FOTO.JPG", b"\xff\xd8\xff", &[]);
        let bytes = w.bytes();
        let t = read(&bytes).unwrap();
        let got: Vec<_> = t
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.mime.as_str(), f.data))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "Relatório de leituras março.xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    &xlsx[..]
                ),
                ("Cotización tóner.pdf", "application/pdf", &pdf[..]),
                ("FOTO.JPG", "image/jpeg", &b"\xff\xd8\xff"[..]),
            ]
        );
        assert!(!t.kept_inside);
        assert_eq!(t.text(), None);
    }

    #[test]
    fn an_attached_outlook_item_keeps_the_stream_offered() {
        let mut w = Writer::new();
        w.file("CONTRATO.PDF", b"%PDF", &[]);
        let mut object = vec![0u8; 16]; // IID_IMessage
        object.extend_from_slice(b"x\x9f>\"nested");
        w.attr(2, 0x0006_9002, &[1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]);
        w.attr(2, 0x0001_8010, b"Pedido de toner\0");
        w.attr(
            2,
            0x0006_9005,
            &props(&[
                (0x0003, PR_ATTACH_METHOD, 5u32.to_le_bytes().to_vec()),
                (PT_OBJECT, PR_ATTACH_DATA, object),
            ]),
        );
        let bytes = w.bytes();
        let t = read(&bytes).unwrap();
        assert_eq!(t.files.len(), 1);
        assert_eq!(t.files[0].name, "CONTRATO.PDF");
        assert!(t.kept_inside);
    }

    #[test]
    fn a_cut_or_altered_stream_is_not_read() {
        let mut w = Writer::new();
        w.file("A.PDF", b"%PDF-1.4 conteudo", &[]);
        let bytes = w.bytes();
        assert!(read(&bytes).is_some());
        for cut in 0..bytes.len() {
            let t = read(&bytes[..cut]);
            // A stream cut between attributes reads (what it holds is whole); one cut
            // inside an attribute does not.
            if let Some(t) = t {
                assert!(t.files.iter().all(|f| f.data == b"%PDF-1.4 conteudo"));
            }
        }
        let mut altered = bytes.clone();
        let at = altered.len() - 5;
        altered[at] ^= 0x20;
        assert!(read(&altered).is_none());
        assert!(read(b"not tnef at all").is_none());
        // A property count far beyond the bytes, or a property of a type this reader
        // cannot size, ends the reading of its attribute only, without allocating: the
        // stream's files are still offered.
        let mut w = Writer::new();
        w.attr(
            1,
            0x0006_9003,
            &[
                0xFF, 0xFF, 0xFF, 0x7F, 0x1E, 0, 0, 0x10, 0xFF, 0xFF, 0xFF, 0xFF,
            ],
        );
        w.attr(
            1,
            0x0006_9003,
            &[1, 0, 0, 0, 0xFD, 0, 0x34, 0x12, 9, 9, 9, 9],
        );
        w.file("B.PDF", b"%PDF-1.7", &[1, 0, 0, 0, 0xFE, 0, 0x07, 0x37]);
        let bytes = w.bytes();
        let t = read(&bytes).unwrap();
        assert_eq!(t.files.len(), 1);
        assert_eq!(t.files[0].name, "B.PDF");
        assert_eq!(t.text(), None);
    }

    #[test]
    fn the_message_text_is_the_plain_body_then_the_rtf() {
        let mut w = Writer::new();
        w.attr(
            1,
            0x0006_9003,
            &props(&[(
                PT_STRING8,
                PR_BODY,
                b"Bom dia, segue a leitura do m\xeas.\r\n\0".to_vec(),
            )]),
        );
        let bytes = w.bytes();
        assert_eq!(
            read(&bytes).unwrap().text().unwrap(),
            "Bom dia, segue a leitura do mês.\n"
        );

        let rtf = b"{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Arial;}}{\\colortbl;\\red0\\green0\\blue0;}\\pard\\f0\\fs20 Buenos d\\'edas,\\par La impresora marca el error SC542.\\par Gracias\\u8212?Luc\\'eda\\par}";
        let mut w = Writer::new();
        w.attr(
            1,
            0x0006_9003,
            &props(&[(PT_BINARY, PR_RTF_COMPRESSED, compress(rtf))]),
        );
        let bytes = w.bytes();
        assert_eq!(
            read(&bytes).unwrap().text().unwrap(),
            "Buenos días,\nLa impresora marca el error SC542.\nGracias—Lucía\n"
        );
    }

    #[test]
    fn compressed_rtf_round_trips_and_stored_rtf_reads_as_is() {
        let raw = b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world hello world hello}\r\n".to_vec();
        let packed = compress(&raw);
        assert!(packed.len() < raw.len() + 16, "{} bytes", packed.len());
        assert_eq!(decompress_rtf(&packed).unwrap(), raw);
        let mut stored = ((raw.len() + 12) as u32).to_le_bytes().to_vec();
        stored.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        stored.extend_from_slice(&0x414C_454Du32.to_le_bytes());
        stored.extend_from_slice(&[0; 4]);
        stored.extend_from_slice(&raw);
        assert_eq!(decompress_rtf(&stored).unwrap(), raw);
        // Every cut of a compressed body decompresses to a prefix, or not at all.
        for cut in 0..packed.len() {
            if let Some(out) = decompress_rtf(&packed[..cut]) {
                assert!(raw.starts_with(&out), "cut {cut}");
            }
        }
        // A body that claims gigabytes gets no more than it holds.
        let mut huge = packed.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decompress_rtf(&huge).unwrap().len() <= MAX_RTF);
    }

    #[test]
    fn html_in_rtf_is_read_as_its_html() {
        let rtf = b"{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss Arial;}}\r\n{\\*\\htmltag19 <html>}{\\*\\htmltag34 <head>}{\\*\\htmltag41 <style>p\\{color:red\\}</style>}{\\*\\htmltag41 </head>}\\htmlrtf {\\htmlrtf0 {\\*\\htmltag64 <p>}Ol\\'e1, a copiadora parou{\\*\\htmltag244 <br>}\\htmlrtf \\line\\htmlrtf0 com erro E-201.{\\*\\htmltag72 </p>}\\htmlrtf \\par\\htmlrtf0 {\\*\\htmltag64 <p>}Att, Jo\\'e3o{\\*\\htmltag72 </p>}}{\\*\\htmltag27 </html>}}";
        let Some(Rtf::Html(html)) = rtf_text(rtf) else {
            panic!("not read as HTML");
        };
        let text = crate::email::html::html_to_text(&html);
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>().join(" "),
            "Olá, a copiadora parou com erro E-201. Att, João"
        );
        assert!(!text.contains("color"), "{text}");
    }

    #[test]
    fn any_bytes_are_read_or_refused_without_panic() {
        let mut w = Writer::new();
        w.file(
            "A.PDF",
            b"%PDF",
            &props(&[(PT_UNICODE, PR_ATTACH_LONG_FILENAME, unicode("a.pdf"))]),
        );
        w.attr(
            1,
            0x0006_9003,
            &props(&[(
                PT_BINARY,
                PR_RTF_COMPRESSED,
                compress(b"{\\rtf1 {\\*\\x a}\\u-3913? b\\'\\par}"),
            )]),
        );
        let base = w.bytes();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..3_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut b = base.clone();
            let at = (seed as usize) % b.len();
            b[at] = (seed >> 32) as u8;
            if let Some(t) = read(&b) {
                let _ = t.text();
            }
            let _ = rtf_text(&b[(seed as usize >> 8) % b.len()..]);
            let _ = decompress_rtf(&b[(seed as usize >> 16) % b.len()..]);
        }
    }
}
