//! OpenID Connect, the relying party's side: the authorization code flow with PKCE
//! (S256), `state` and `nonce`, and an ID token believed only after its signature (RS256 or
//! ES256, by a key of the issuer's published set), issuer, audience, expiry, issue time and
//! nonce are checked. The provider is found by discovery; its keys are read again when a
//! token names a key not seen yet (the provider rotated), at most every few seconds.
//!
//! What a provider says is trusted only as far as it goes: an address counts when the
//! token says `email_verified`; the callers match accounts by that address alone.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::SsoProvider;

/// How far the two clocks may disagree.
const LEEWAY_S: i64 = 60;
/// The least time between two readings of a provider's keys.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Why a sign-in through a provider failed. The words are for the log; the page says
/// less.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the provider cannot be reached or answered badly: {0}")]
    Provider(String),
    #[error("the ID token is refused: {0}")]
    Token(String),
}

pub use crate::config::check_issuer;

/// The parts of a discovery document used here.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

/// A public key of the provider's set.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

struct Known {
    discovery: Discovery,
    keys: Vec<Jwk>,
    read_at: Instant,
}

fn known() -> &'static Mutex<HashMap<String, Known>> {
    static K: OnceLock<Mutex<HashMap<String, Known>>> = OnceLock::new();
    K.get_or_init(|| Mutex::new(HashMap::new()))
}

fn http() -> Result<reqwest::Client, OidcError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| OidcError::Provider(e.to_string()))
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, OidcError> {
    check_issuer(url).map_err(|e| OidcError::Provider(format!("{url} {e}")))?;
    let resp = http()?
        .get(url)
        .send()
        .await
        .map_err(|e| OidcError::Provider(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(OidcError::Provider(format!("{url}: {}", resp.status())));
    }
    resp.json()
        .await
        .map_err(|e| OidcError::Provider(format!("{url}: {e}")))
}

/// Reads the provider's discovery document and keys.
async fn discover(issuer: &str) -> Result<Known, OidcError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let discovery: Discovery = get_json(&url).await?;
    if discovery.issuer != issuer {
        return Err(OidcError::Provider(format!(
            "the discovery document names issuer {}, not {issuer}",
            discovery.issuer
        )));
    }
    for endpoint in [
        &discovery.authorization_endpoint,
        &discovery.token_endpoint,
        &discovery.jwks_uri,
    ] {
        check_issuer(endpoint).map_err(|e| OidcError::Provider(format!("{endpoint} {e}")))?;
    }
    let jwks: Jwks = get_json(&discovery.jwks_uri).await?;
    Ok(Known {
        discovery,
        keys: jwks.keys,
        read_at: Instant::now(),
    })
}

/// The provider's discovery document, read once and kept.
pub async fn discovery(issuer: &str) -> Result<Discovery, OidcError> {
    if let Some(k) = lock().get(issuer) {
        return Ok(k.discovery.clone());
    }
    let k = discover(issuer).await?;
    let d = k.discovery.clone();
    lock().insert(issuer.to_owned(), k);
    Ok(d)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<String, Known>> {
    known()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The provider's keys; read again when `fresh` (a token named a key not in them) and the
/// last reading is older than a few seconds.
async fn keys(issuer: &str, fresh: bool) -> Result<Vec<Jwk>, OidcError> {
    if let Some(k) = lock().get(issuer)
        && (!fresh || k.read_at.elapsed() < REFRESH_EVERY)
    {
        return Ok(k.keys.clone());
    }
    let k = discover(issuer).await?;
    let keys = k.keys.clone();
    lock().insert(issuer.to_owned(), k);
    Ok(keys)
}

/// What the browser keeps between leaving for the provider and coming back: compared
/// with the answer's `state`, and holding the nonce and the PKCE verifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

impl Pending {
    pub fn new() -> Self {
        let r = || B64.encode(switchboard_core::clock::random_bytes::<32>());
        Self {
            state: r(),
            nonce: r(),
            verifier: r(),
        }
    }

    /// The PKCE challenge (S256) of the verifier.
    pub fn challenge(&self) -> String {
        B64.encode(Sha256::digest(self.verifier.as_bytes()))
    }
}

impl Default for Pending {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the browser is sent to sign in.
pub fn authorize_url(
    d: &Discovery,
    p: &SsoProvider,
    redirect_uri: &str,
    pending: &Pending,
) -> Result<String, OidcError> {
    let mut url = url::Url::parse(&d.authorization_endpoint)
        .map_err(|e| OidcError::Provider(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &p.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid email profile")
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &pending.challenge())
        .append_pair("code_challenge_method", "S256");
    Ok(url.into())
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct Signed {
    pub subject: String,
    /// The address, only when the provider verified it.
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Exchanges the code for tokens and checks the ID token.
pub async fn finish(
    p: &SsoProvider,
    redirect_uri: &str,
    pending: &Pending,
    code: &str,
    now_s: i64,
) -> Result<Signed, OidcError> {
    let d = discovery(&p.issuer).await?;
    let resp = http()?
        .post(&d.token_endpoint)
        .basic_auth(
            form_encode(&p.client_id),
            Some(form_encode(p.client_secret.expose())),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", &pending.verifier),
        ])
        .send()
        .await
        .map_err(|e| OidcError::Provider(e.to_string()))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| OidcError::Provider(format!("token endpoint: {e}")))?;
    if !status.is_success() {
        return Err(OidcError::Provider(format!(
            "token endpoint {status}: {}",
            body["error"].as_str().unwrap_or("no error code")
        )));
    }
    let token = body["id_token"]
        .as_str()
        .ok_or_else(|| OidcError::Provider("the token answer has no id_token".into()))?;
    let kid = header(token)?.kid;
    let mut keys = keys(&p.issuer, false).await?;
    if kid
        .as_ref()
        .is_some_and(|k| !keys.iter().any(|j| j.kid.as_ref() == Some(k)))
    {
        // A key not seen yet: the provider may have rotated.
        keys = self::keys(&p.issuer, true).await?;
    }
    let claims = verify(token, &keys, &p.issuer, &p.client_id, &pending.nonce, now_s)?;
    Ok(Signed {
        subject: claims["sub"].as_str().unwrap_or_default().to_owned(),
        email: (claims["email_verified"] == Value::Bool(true))
            .then(|| claims["email"].as_str().map(|e| e.trim().to_lowercase()))
            .flatten(),
        name: claims["name"].as_str().map(str::to_owned),
    })
}

/// `application/x-www-form-urlencoded`, as RFC 6749 §2.3.1 wants the client's id and
/// secret encoded before Basic authentication.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

fn part(s: &str) -> Result<Vec<u8>, OidcError> {
    B64.decode(s.trim_end_matches('='))
        .map_err(|_| OidcError::Token("not base64url".into()))
}

fn header(token: &str) -> Result<Header, OidcError> {
    let h = token
        .split('.')
        .next()
        .ok_or_else(|| OidcError::Token("empty".into()))?;
    serde_json::from_slice(&part(h)?).map_err(|_| OidcError::Token("unreadable header".into()))
}

/// Checks an ID token (a signed JWT) and returns its claims: the signature by one of
/// `keys` (RS256 or ES256; never `none`, never a shared secret), `iss`, `aud` (and `azp`
/// when several audiences), `exp`, `iat` and `nonce`.
pub fn verify(
    token: &str,
    keys: &[Jwk],
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now_s: i64,
) -> Result<Value, OidcError> {
    let bad = |m: &str| Err(OidcError::Token(m.into()));
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, s] = parts.as_slice() else {
        return bad("not three parts");
    };
    let head = header(token)?;
    let signature = part(s)?;
    let signed = format!("{h}.{c}");
    let candidates: Vec<&Jwk> = keys
        .iter()
        .filter(|k| head.kid.is_none() || k.kid == head.kid)
        .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == head.alg))
        .collect();
    if candidates.is_empty() {
        return bad("signed by a key the issuer does not publish");
    }
    let verified = candidates
        .iter()
        .any(|k| check_signature(&head.alg, k, signed.as_bytes(), &signature));
    if !verified {
        return bad("the signature does not verify");
    }
    let claims: Value = serde_json::from_slice(&part(c)?)
        .map_err(|_| OidcError::Token("unreadable claims".into()))?;
    if claims["iss"].as_str() != Some(issuer) {
        return bad("issued by another issuer");
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&client_id) {
        return bad("meant for another client");
    }
    if audiences.len() > 1 && claims["azp"].as_str() != Some(client_id) {
        return bad("several audiences and not authorized for this client");
    }
    let Some(exp) = claims["exp"].as_i64() else {
        return bad("no expiry");
    };
    if exp + LEEWAY_S < now_s {
        return bad("expired");
    }
    let Some(iat) = claims["iat"].as_i64() else {
        return bad("no issue time");
    };
    if iat - LEEWAY_S > now_s {
        return bad("issued in the future");
    }
    if claims["nonce"].as_str() != Some(nonce) {
        return bad("the nonce is not this sign-in's");
    }
    if claims["sub"].as_str().is_none_or(str::is_empty) {
        return bad("no subject");
    }
    Ok(claims)
}

fn check_signature(alg: &str, key: &Jwk, message: &[u8], signature: &[u8]) -> bool {
    use ring::signature as sig;
    let b = |v: &Option<String>| v.as_deref().and_then(|s| B64.decode(s).ok());
    match (alg, key.kty.as_str()) {
        ("RS256", "RSA") => {
            let (Some(n), Some(e)) = (b(&key.n), b(&key.e)) else {
                return false;
            };
            let n = strip_zeros(&n);
            sig::RsaPublicKeyComponents { n, e: e.as_slice() }
                .verify(&sig::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok()
        }
        ("ES256", "EC") if key.crv.as_deref() == Some("P-256") => {
            let (Some(x), Some(y)) = (b(&key.x), b(&key.y)) else {
                return false;
            };
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok()
        }
        _ => false,
    }
}

fn strip_zeros(n: &[u8]) -> &[u8] {
    let first = n.iter().position(|&b| b != 0).unwrap_or(n.len());
    &n[first..]
}

/// The browser's cookie between leaving for the provider and coming back.
pub const COOKIE: &str = "sb_sso";

/// What the cookie holds: which provider, this sign-in's secrets, and where to land.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    pub provider: String,
    pub pending: Pending,
    pub next: String,
}

impl Journey {
    pub fn encode(&self) -> String {
        format!(
            "{}.{}.{}.{}.{}",
            self.provider,
            self.pending.state,
            self.pending.nonce,
            self.pending.verifier,
            B64.encode(self.next.as_bytes())
        )
    }

    pub fn decode(s: &str) -> Option<Self> {
        let mut it = s.split('.');
        let j = Journey {
            provider: it.next()?.to_owned(),
            pending: Pending {
                state: it.next()?.to_owned(),
                nonce: it.next()?.to_owned(),
                verifier: it.next()?.to_owned(),
            },
            next: String::from_utf8(B64.decode(it.next()?).ok()?).ok()?,
        };
        it.next().is_none().then_some(j)
    }
}

/// The provider's answer at the callback.
#[derive(Debug, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// RFC 9207: the issuer that answers; when given, it must be this provider.
    pub iss: Option<String>,
}

/// Sends the browser to the provider: discovery, then a redirect with a fresh state,
/// nonce and PKCE challenge, whose secrets ride in a short-lived cookie.
pub async fn start(
    p: &SsoProvider,
    provider: &str,
    redirect_uri: &str,
    next: &str,
) -> Result<axum::response::Response, OidcError> {
    use axum::response::IntoResponse;
    let d = discovery(&p.issuer).await?;
    let journey = Journey {
        provider: provider.to_owned(),
        pending: Pending::new(),
        next: next.to_owned(),
    };
    let to = authorize_url(&d, p, redirect_uri, &journey.pending)?;
    let mut resp = axum::response::Redirect::to(&to).into_response();
    resp.headers_mut().append(
        axum::http::header::SET_COOKIE,
        crate::kit::session::set_cookie(COOKIE, &journey.encode(), 600),
    );
    Ok(resp)
}

/// Why the callback did not sign anyone in.
#[derive(Debug)]
pub enum Refused {
    /// No sign-in under way in this browser, or another one's answer (state differs).
    NotThisBrowser,
    /// The provider said no (the person cancelled, say).
    Declined(String),
    Failed(OidcError),
}

/// Checks the provider's answer against this browser's cookie and finishes the sign-in:
/// who signed in, and where they meant to go.
pub async fn callback(
    headers: &axum::http::HeaderMap,
    q: &Callback,
    p: &SsoProvider,
    provider: &str,
    redirect_uri: &str,
    now_s: i64,
) -> Result<(Signed, String), Refused> {
    let journey = crate::kit::session::cookie(headers, COOKIE)
        .and_then(Journey::decode)
        .filter(|j| j.provider == provider)
        .ok_or(Refused::NotThisBrowser)?;
    let state_ok = q.state.as_deref().is_some_and(|s| {
        crate::kit::session::constant_time_eq(s.as_bytes(), journey.pending.state.as_bytes())
    });
    if !state_ok {
        return Err(Refused::NotThisBrowser);
    }
    if q.iss.as_deref().is_some_and(|i| i != p.issuer) {
        return Err(Refused::Failed(OidcError::Provider(
            "the answer names another issuer".into(),
        )));
    }
    if let Some(e) = &q.error {
        return Err(Refused::Declined(e.chars().take(80).collect()));
    }
    let code = q.code.as_deref().ok_or(Refused::NotThisBrowser)?;
    let signed = finish(p, redirect_uri, &journey.pending, code, now_s)
        .await
        .map_err(Refused::Failed)?;
    Ok((signed, journey.next))
}

/// The cookie's end, on every answer of the callback.
pub fn forget() -> axum::http::HeaderValue {
    crate::kit::session::set_cookie(COOKIE, "", 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A fresh RSA key (PKCS#1 DER), made by OpenSSL, and its public half as a JWK.
    fn rsa_key(kid: &str) -> (ring::rsa::KeyPair, Jwk) {
        let out = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-outform",
                "DER",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl genpkey");
        let pair = ring::rsa::KeyPair::from_der(&out.stdout).unwrap();
        let public: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: Some(kid.into()),
            use_: Some("sig".into()),
            alg: Some("RS256".into()),
            n: Some(B64.encode(&public.n)),
            e: Some(B64.encode(&public.e)),
            crv: None,
            x: None,
            y: None,
        };
        (pair, jwk)
    }

    fn sign(pair: &ring::rsa::KeyPair, header: &Value, claims: &Value) -> String {
        let signed = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{signed}.{}", B64.encode(sig))
    }

    const ISS: &str = "http://127.0.0.1:9/op";
    const NOW: i64 = 1_800_000_000;

    fn claims() -> Value {
        json!({"iss": ISS, "aud": "switchboard", "sub": "u1", "exp": NOW + 300,
               "iat": NOW, "nonce": "n-1", "email": "ana@example.com", "email_verified": true})
    }

    #[test]
    fn only_a_token_of_the_issuer_for_this_client_and_sign_in_is_believed() {
        let (pair, jwk) = rsa_key("k1");
        let (other, _) = rsa_key("k1");
        let head = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
        let keys = [jwk];
        let check = |t: &str| verify(t, &keys, ISS, "switchboard", "n-1", NOW);
        let good = sign(&pair, &head, &claims());
        assert_eq!(check(&good).unwrap()["sub"], "u1");

        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            sign(&pair, &head, &c)
        };
        let refused = |t: &str, why: &str| {
            let e = check(t).unwrap_err().to_string();
            assert!(e.contains(why), "{e} should say {why}");
        };
        // Forged: signed by a key the issuer does not publish, or altered after signing.
        refused(&sign(&other, &head, &claims()), "signature");
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let mut c = claims();
        c["email"] = json!("boss@example.com");
        parts[1] = B64.encode(c.to_string());
        refused(&parts.join("."), "signature");
        // No algorithm, or a shared-secret one, never passes.
        let none = format!(
            "{}.{}.",
            B64.encode(json!({"alg": "none"}).to_string()),
            B64.encode(claims().to_string())
        );
        assert!(check(&none).is_err());
        let hs = sign(&pair, &json!({"alg": "HS256", "kid": "k1"}), &claims());
        assert!(check(&hs).is_err());
        // Expired, not yet issued, another issuer, another client, another sign-in.
        refused(&with("exp", json!(NOW - LEEWAY_S - 1)), "expired");
        refused(&with("iat", json!(NOW + LEEWAY_S + 5)), "future");
        refused(&with("iss", json!("http://127.0.0.1:9/evil")), "issuer");
        refused(&with("aud", json!("someone-else")), "another client");
        refused(
            &with("aud", json!(["switchboard", "other"])),
            "several audiences",
        );
        refused(&with("nonce", json!("n-2")), "nonce");
        // A key named that the set does not hold.
        let unknown = sign(&pair, &json!({"alg": "RS256", "kid": "k9"}), &claims());
        refused(&unknown, "does not publish");
    }

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        // RFC 7636, appendix B.
        let p = Pending {
            state: String::new(),
            nonce: String::new(),
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
        };
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let a = Pending::new();
        assert_ne!(a, Pending::new());
        assert_eq!(a.verifier.len(), 43);
    }

    #[test]
    fn a_journey_survives_its_cookie() {
        let j = Journey {
            provider: "globex".into(),
            pending: Pending::new(),
            next: "/portal/invoices?status=due".into(),
        };
        assert_eq!(Journey::decode(&j.encode()), Some(j.clone()));
        assert_eq!(Journey::decode(&format!("{}.x", j.encode())), None);
        assert_eq!(Journey::decode("globex.a.b"), None);
    }

    #[test]
    fn issuers_are_https_or_loopback() {
        assert!(check_issuer("https://login.example.com").is_ok());
        assert!(check_issuer("http://127.0.0.1:4000").is_ok());
        assert!(check_issuer("http://localhost:4000").is_ok());
        assert!(check_issuer("http://login.example.com").is_err());
        assert!(check_issuer("ftp://127.0.0.1").is_err());
    }
}
