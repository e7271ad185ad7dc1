//! Account security without IO: password hashing and policy, TOTP codes (RFC 6238) and
//! recovery codes. The store (`store/accounts.rs`) keeps what these make; the gateway only
//! translates.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

use crate::clock::random_bytes;
use crate::error::{Error, Result};

/// OWASP's argon2id setting: 19 MiB of memory, 2 passes, 1 lane.
const ARGON2_M_KIB: u32 = 19 * 1024;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// A hash with the same parameters as real ones that no known password produces (its
/// output is arbitrary). Checking a login for an unknown email verifies against it, so
/// that answer takes as long as a wrong password does.
pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3dpdGNoYm9hcmQtZHVtbXk$PkaqKz1ROuPs1u6rvFw1P2m+uEQlkjIJQyHEMlZ3TWc";

fn argon2() -> Result<Argon2<'static>> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None)
        .map_err(|e| Error::invalid(format!("password hashing settings: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// An argon2id hash of `password` with a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = random_bytes::<16>();
    let hash = argon2()?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| Error::invalid(format!("the password could not be hashed: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches a PHC hash made by [`hash_password`] (its own parameters
/// are used). A malformed hash matches nothing.
pub fn verify_password(phc_hash: &str, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc_hash)
        .is_ok()
}

/// A few of the passwords long enough to pass the length rule that lists of breached
/// passwords show most often.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789012",
    "0987654321",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "asdfghjkl;",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "iloveyou12",
    "abcdefghij",
    "abc1234567",
    "letmein123",
    "welcome123",
    "changeme123",
    "administrator",
    "qwerty12345",
    "qwerty123456",
];

/// NIST SP 800-63B: 10 to 128 characters, anything allowed (spaces and all of Unicode),
/// no composition rules; refused only when it is one character repeated or a well-known
/// password.
pub fn check_password_policy(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(Error::invalid(format!(
            "the password must have at least {PASSWORD_MIN_CHARS} characters"
        )));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(Error::invalid(format!(
            "the password must have at most {PASSWORD_MAX_CHARS} characters"
        )));
    }
    let mut it = password.chars();
    if let Some(first) = it.next()
        && it.all(|c| c == first)
    {
        return Err(Error::invalid(
            "the password must not be one character repeated",
        ));
    }
    if COMMON_PASSWORDS.contains(&password.to_lowercase().as_str()) {
        return Err(Error::invalid(
            "this password is one of the most common ones; choose another",
        ));
    }
    Ok(())
}

/// [`check_password_policy`], and the password must not be the account's email address
/// nor the part of it before the `@`.
pub fn check_password_policy_for(password: &str, email: &str) -> Result<()> {
    check_password_policy(password)?;
    let typed = password.trim().to_lowercase();
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or("");
    if typed == email || (!local.is_empty() && typed == local) {
        return Err(Error::invalid(
            "the password must not be your email address",
        ));
    }
    Ok(())
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP, HMAC-SHA-1), as
/// authenticator apps make them: 6 digits, 30-second steps.
pub mod totp {
    use hmac::{Hmac, KeyInit, Mac};
    use sha1::Sha1;

    use super::constant_time_eq;
    use crate::clock::random_bytes;

    pub const STEP_MS: i64 = 30_000;
    pub const DIGITS: u32 = 6;
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    /// 160 random bits, the size RFC 4226 recommends for HMAC-SHA-1.
    pub fn new_secret() -> Vec<u8> {
        random_bytes::<20>().to_vec()
    }

    /// RFC 4648 base32, upper case, without padding (what authenticator apps take).
    pub fn base32(secret: &[u8]) -> String {
        let mut out = String::with_capacity(secret.len().div_ceil(5) * 8);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for &byte in secret {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// Reads base32 as people copy it: any case, spaces, dashes and `=` padding ignored.
    /// `None` for any other character or a length no encoding produces.
    pub fn from_base32(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len() * 5 / 8);
        let (mut buffer, mut bits, mut symbols) = (0u32, 0u32, 0usize);
        for c in s.chars() {
            if c == ' ' || c == '-' || c == '=' {
                continue;
            }
            let upper = c.to_ascii_uppercase();
            let value = ALPHABET.iter().position(|&a| char::from(a) == upper)?;
            buffer = ((buffer << 5) | value as u32) & 0xffff;
            bits += 5;
            symbols += 1;
            if bits >= 8 {
                bits -= 8;
                out.push(((buffer >> bits) & 0xff) as u8);
            }
        }
        // Groups of 8 symbols carry 5 bytes; a last group of 1, 3 or 6 symbols cannot
        // come from any input.
        if matches!(symbols % 8, 1 | 3 | 6) {
            return None;
        }
        Some(out)
    }

    /// HOTP(secret, step): the `digits`-digit code of one counter value, zero-padded.
    pub fn code(secret: &[u8], step: i64, digits: u32) -> String {
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
            return String::new();
        };
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        let digits = digits.clamp(1, 9);
        let value = binary % 10u32.pow(digits);
        format!("{value:0width$}", width = digits as usize)
    }

    /// The step of `now_ms`.
    pub fn step_at(now_ms: i64) -> i64 {
        now_ms.div_euclid(STEP_MS)
    }

    /// The step whose code `code` is: the current one, or the one just before or after
    /// (clocks drift, people type slowly). Every candidate is compared, in constant time.
    /// Whether the step was already used is the caller's business.
    pub fn matching_step(secret: &[u8], code: &str, now_ms: i64) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = step_at(now_ms);
        let mut found = None;
        for step in [now - 1, now, now + 1] {
            let expected = self::code(secret, step, DIGITS);
            if constant_time_eq(expected.as_bytes(), code.as_bytes()) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://` URI an authenticator app reads from a QR code.
    pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={}",
            percent(issuer),
            percent(account),
            base32(secret),
            percent(issuer),
            STEP_MS / 1000
        )
    }

    fn percent(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
}

/// No 0/o, 1/l/i: a recovery code is read off paper and typed by hand.
const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
pub const RECOVERY_CODES: usize = 10;

/// Ten single-use codes such as `k3f9-x2q7` (about 40 random bits each).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..8)
                .map(|_| {
                    let i = rand::random_range(0..RECOVERY_ALPHABET.len());
                    char::from(RECOVERY_ALPHABET[i])
                })
                .collect();
            format!("{}-{}", &chars[..4], &chars[4..])
        })
        .collect()
}

/// A recovery code as typed, normalized (any case, dash and spaces optional); `None` if
/// it cannot be one.
pub fn normalize_recovery_code(code: &str) -> Option<String> {
    let code: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == 8 && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(code)
}

/// What the store keeps of a recovery code: a SHA-256 salted with the user's id. The
/// code is random, so a slow hash would add little; the salt keeps one precomputed table
/// from serving every account.
pub fn recovery_code_hash(user_id: &str, code: &str) -> Option<String> {
    let code = normalize_recovery_code(code)?;
    Some(hex::encode(Sha256::digest(
        format!("{user_id}:{code}").as_bytes(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        let secret = b"12345678901234567890";
        for (seconds, expected) in [
            (59_i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = totp::step_at(seconds * 1000);
            assert_eq!(totp::code(secret, step, 8), expected, "at {seconds} s");
            // Six digits are the last six of eight.
            assert_eq!(totp::code(secret, step, 6), expected[2..]);
        }
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        let secret = b"12345678901234567890";
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(totp::code(secret, counter as i64, 6), *code);
        }
    }

    #[test]
    fn rfc4648_base32_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(totp::base32(plain.as_bytes()), encoded);
            assert_eq!(
                totp::from_base32(encoded).as_deref(),
                Some(plain.as_bytes())
            );
        }
        // As people copy it: lower case, grouped, padded.
        assert_eq!(
            totp::from_base32("mzxw 6ytb oi======").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(totp::from_base32("MZXW1"), None, "1 is not base32");
        assert_eq!(totp::from_base32("MZX"), None, "3 symbols encode nothing");
        let secret = totp::new_secret();
        assert_eq!(secret.len(), 20);
        assert_eq!(totp::from_base32(&totp::base32(&secret)), Some(secret));
    }

    #[test]
    fn codes_match_one_step_either_side_and_no_further() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111_000;
        let step = totp::step_at(now);
        for delta in [-1, 0, 1] {
            let code = totp::code(secret, step + delta, 6);
            assert_eq!(totp::matching_step(secret, &code, now), Some(step + delta));
        }
        for delta in [-2, 2] {
            let code = totp::code(secret, step + delta, 6);
            assert_eq!(totp::matching_step(secret, &code, now), None);
        }
        let code = totp::code(secret, step, 6);
        assert_eq!(
            totp::matching_step(secret, &format!(" {code} "), now),
            Some(step)
        );
        assert_eq!(totp::matching_step(secret, &code[..5], now), None);
        assert_eq!(totp::matching_step(secret, "abcdef", now), None);
        assert_eq!(totp::matching_step(b"another secret", &code, now), None);
    }

    #[test]
    fn otpauth_uri_names_issuer_account_and_secret() {
        let uri = totp::otpauth_uri("Acme Support", "ana@acme.com", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Support:ana@acme.com?secret=MZXW6YTBOI&issuer=Acme%20Support&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn password_policy() {
        assert!(check_password_policy("correct horse").is_ok());
        assert!(check_password_policy("ñandú pájaro 🐦").is_ok());
        assert!(check_password_policy(&"ab".repeat(64)).is_ok());
        let too_short = check_password_policy("short one").unwrap_err().to_string();
        assert!(too_short.contains("at least 10 characters"), "{too_short}");
        // Characters, not bytes: nine accented letters are still too short.
        assert!(check_password_policy("ééééééééa").is_err());
        let long = check_password_policy(&"ab".repeat(64 + 1)).unwrap_err();
        assert!(long.to_string().contains("at most 128"), "{long}");
        let same = check_password_policy("aaaaaaaaaaaa").unwrap_err();
        assert!(
            same.to_string().contains("one character repeated"),
            "{same}"
        );
        assert!(check_password_policy("Password123").is_err());
        assert!(check_password_policy("1234567890").is_err());
        assert!(check_password_policy_for("ana@acme.com", "Ana@Acme.com").is_err());
        assert!(check_password_policy_for("ana.souza.1", "ana.souza.1@acme.com").is_err());
        assert!(check_password_policy_for("correct horse", "ana@acme.com").is_ok());
    }

    #[test]
    fn passwords_hash_with_owasp_argon2id_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horsE"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let real = hash_password("anything at all").unwrap();
        let params = |h: &str| h.split('$').nth(3).map(str::to_owned);
        assert_eq!(params(DUMMY_HASH), params(&real));
        assert!(DUMMY_HASH.starts_with("$argon2id$v=19$"));
        // It parses, so verifying against it runs the whole computation.
        assert!(!verify_password(DUMMY_HASH, "anything at all"));
        assert!(argon2::password_hash::phc::PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn recovery_codes_are_readable_and_distinct() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        for c in &codes {
            assert_eq!(c.len(), 9);
            assert_eq!(&c[4..5], "-");
            assert!(normalize_recovery_code(c).is_some(), "{c}");
            assert!(!c.contains(['0', 'o', '1', 'l', 'i']), "{c}");
        }
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len());
        assert_eq!(
            normalize_recovery_code(" K3F9 X2Q7 ").as_deref(),
            Some("k3f9x2q7")
        );
        assert_eq!(normalize_recovery_code("k3f9-x2q0"), None);
        assert_eq!(
            recovery_code_hash("u1", "k3f9-x2q7"),
            recovery_code_hash("u1", "K3F9X2Q7")
        );
        assert_ne!(
            recovery_code_hash("u1", "k3f9-x2q7"),
            recovery_code_hash("u2", "k3f9-x2q7")
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"123456", b"123456"));
        assert!(!constant_time_eq(b"123456", b"123457"));
        assert!(!constant_time_eq(b"12345", b"123456"));
    }
}
