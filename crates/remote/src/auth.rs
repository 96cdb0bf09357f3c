//! The shared-secret token: read from a file, sent as `authorization: Bearer <token>`, and compared
//! in constant time.

use std::fmt;
use std::path::{Path, PathBuf};

use remotemedia_core::env_vars;
use subtle::ConstantTimeEq as _;
use tonic::metadata::{MetadataMap, MetadataValue};

/// The metadata key carrying the token.
const AUTHORIZATION: &str = "authorization";
const BEARER: &str = "Bearer ";

/// A secret shared by a server and its clients. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// A token that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read token file `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the token {origin} is empty")]
    Empty { origin: String },
    #[error(
        "the token {origin} holds characters that cannot travel in a header (use printable ASCII)"
    )]
    NotPrintable { origin: String },
}

impl Token {
    /// The token in `text` (surrounding whitespace, such as a final newline, is not part of it);
    /// `origin` names where it came from in errors.
    pub fn new(text: &str, origin: &str) -> Result<Token, TokenError> {
        let token = text.trim();
        if token.is_empty() {
            return Err(TokenError::Empty {
                origin: origin.to_owned(),
            });
        }
        if !token.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(TokenError::NotPrintable {
                origin: origin.to_owned(),
            });
        }
        Ok(Token(token.to_owned()))
    }

    /// The token in the file at `path`.
    pub fn from_file(path: &Path) -> Result<Token, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_owned(),
            source,
        })?;
        Token::new(&text, &format!("in `{}`", path.display()))
    }

    /// The token in the [`REMOTEMEDIA_TOKEN`](env_vars::TOKEN) environment variable, if it is set.
    pub fn from_env() -> Result<Option<Token>, TokenError> {
        match std::env::var(env_vars::TOKEN) {
            Ok(text) => Token::new(&text, &format!("in {}", env_vars::TOKEN)).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Adds the token to a request's metadata.
    pub(crate) fn attach(&self, metadata: &mut MetadataMap) {
        let value = MetadataValue::try_from(format!("{BEARER}{}", self.0))
            .expect("Token::new accepts printable ASCII only");
        metadata.insert(AUTHORIZATION, value);
    }

    /// True when `metadata` carries this token. The comparison takes the same time wherever the
    /// first difference is, so response times reveal nothing about the token.
    pub(crate) fn admits(&self, metadata: &MetadataMap) -> bool {
        let Some(presented) = metadata
            .get(AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(BEARER.as_bytes()))
        else {
            return false;
        };
        presented.ct_eq(self.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_token_is_admitted() {
        let token = Token::new("s3cret\n", "test").unwrap();
        let mut metadata = MetadataMap::new();
        assert!(!token.admits(&metadata));
        token.attach(&mut metadata);
        assert!(token.admits(&metadata));
        let mut other = MetadataMap::new();
        Token::new("s3cres", "test").unwrap().attach(&mut other);
        assert!(!token.admits(&other));
        let mut longer = MetadataMap::new();
        Token::new("s3cret2", "test").unwrap().attach(&mut longer);
        assert!(!token.admits(&longer));
    }

    /// The claim of `admits` (and of docs/remote.md), measured: a wrong token differing in its
    /// first byte takes as long to refuse as one differing only in its last. With `==` (memcmp,
    /// which stops at the first difference) the first is refused hundreds of times faster on a
    /// 1 MiB token; in constant time the two take the same time. The fastest of many tries of
    /// each, interleaved, so load on the machine slows both alike.
    #[test]
    fn a_wrong_token_takes_as_long_to_refuse_wherever_it_differs() {
        use std::time::{Duration, Instant};

        const LENGTH: usize = 1 << 20;
        const TRIES: usize = 31;
        let secret = "a".repeat(LENGTH);
        let token = Token::new(&secret, "test").unwrap();
        let differing_at = |index: usize| {
            let mut wrong = secret.clone().into_bytes();
            wrong[index] = b'b';
            let mut metadata = MetadataMap::new();
            Token::new(std::str::from_utf8(&wrong).unwrap(), "test")
                .unwrap()
                .attach(&mut metadata);
            metadata
        };
        let (first, last) = (differing_at(0), differing_at(LENGTH - 1));
        let fastest = |metadata: &MetadataMap, best: &mut Duration| {
            let started = Instant::now();
            assert!(!token.admits(std::hint::black_box(metadata)));
            *best = (*best).min(started.elapsed());
        };
        let (mut at_first, mut at_last) = (Duration::MAX, Duration::MAX);
        for _ in 0..TRIES {
            fastest(&first, &mut at_first);
            fastest(&last, &mut at_last);
        }
        let ratio = at_first.as_secs_f64() / at_last.as_secs_f64();
        assert!(
            ratio > 0.5,
            "refusing a token differing at its first byte took {at_first:?}, at its last {at_last:?}: \
             the comparison stops at the first difference"
        );
    }

    #[test]
    fn unusable_tokens_are_refused() {
        assert!(matches!(
            Token::new(" \n", "in `t`"),
            Err(TokenError::Empty { .. })
        ));
        assert!(matches!(
            Token::new("tab\there", "in `t`"),
            Err(TokenError::NotPrintable { .. })
        ));
        assert_eq!(format!("{:?}", Token::new("x", "t").unwrap()), "Token(..)");
    }
}
