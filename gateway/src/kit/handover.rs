//! "Continue on WhatsApp" codes (`portal::whatsapp` makes them, `kit::whatsapp::intake`
//! reads them): 40 random bits in Crockford's base 32, shown `ABCD-EFGH`, found in a
//! message's text even when retyped.

/// How long a code may take to arrive from WhatsApp.
pub const CODE_MINUTES: i64 = 30;

/// Crockford's base 32: no I, L, O or U to misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh code: 40 random bits as `ABCD-EFGH`.
pub fn new_code() -> String {
    let bytes = switchboard_core::clock::random_bytes::<5>();
    let mut bits: u64 = 0;
    for b in bytes {
        bits = (bits << 8) | u64::from(b);
    }
    let mut out = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            out.push('-');
        }
        let v = (bits >> (35 - 5 * i)) & 31;
        out.push(char::from(ALPHABET[v as usize]));
    }
    out
}

/// The code in a message's text, as it was made (upper case; `O` read as `0`, `I` and `L`
/// as `1`), if the text has one.
pub fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter_map(|word| {
            let (a, b) = word.split_once('-')?;
            if a.len() != 4 || b.len() != 4 {
                return None;
            }
            let fix = |s: &str| -> Option<String> {
                s.chars()
                    .map(|c| match c.to_ascii_uppercase() {
                        'O' => Some('0'),
                        'I' | 'L' => Some('1'),
                        c if ALPHABET.contains(&(c as u8)) => Some(c),
                        _ => None,
                    })
                    .collect()
            };
            Some(format!("{}-{}", fix(a)?, fix(b)?))
        })
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_as_made_even_when_retyped() {
        let code = new_code();
        assert_eq!(code.len(), 9);
        assert_ne!(code, new_code());
        let text = format!("Olá! Quero continuar minha conversa do portal. Código: {code}");
        assert_eq!(code_in(&text).as_deref(), Some(code.as_str()));
        // Lower case, letters read for digits, the code inside a sentence.
        assert_eq!(
            code_in("meu codigo e 7k2o-q9il, obrigado").as_deref(),
            Some("7K20-Q911")
        );
        assert_eq!(code_in("call 5555-1234 now").as_deref(), Some("5555-1234"));
        for none in [
            "",
            "no code here",
            "ABC-DEFG",
            "ABCDE-FGHI",
            "ABCD-EFG!",
            "ABCD-EFGU",
        ] {
            assert_eq!(code_in(none), None, "{none}");
        }
    }
}
