//! Meta signs each webhook delivery: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256
//! of the raw body keyed with the app secret. Checked before the body is read, in constant
//! time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Whether `header` is the signature of `body` under `app_secret`.
pub fn valid(app_secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The header value for `body` (what Meta sends; used by tests and tools).
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(app_secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_check_the_body_and_the_secret() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let good = sign(b"app-secret", body);
        assert!(valid(b"app-secret", body, &good));
        assert!(!valid(b"other-secret", body, &good));
        assert!(!valid(b"app-secret", b"{}", &good));
        assert!(!valid(
            b"app-secret",
            body,
            &good.replace("sha256=", "sha1=")
        ));
        assert!(!valid(b"app-secret", body, "sha256=zz"));
        assert!(!valid(b"app-secret", body, ""));
    }
}
