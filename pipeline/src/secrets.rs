//! Credentials: the one place that knows where they hide and keeps them
//! out of logs, reasons, dead letters and diagnostics.
//!
//! - [`Secret`] wraps every value of the pipeline file that may hold one
//!   (urls, headers, HMAC secrets): `Debug` and `Display` print `***`.
//! - [`Scrubber`] replaces known secret texts by `***` in any message
//!   before it reaches a log line or a reason (a driver error quoting the
//!   url, a server echoing a header).
//! - The url helpers find the secret parts of a url in each scheme's own
//!   way: the password of `scheme://user:password@host` and `password=`
//!   keys for PostgreSQL (where a user alone is not a secret), the password
//!   or the bare token of `nats://token@host` in each url of a
//!   comma-separated NATS list. [`redact`] shows a url without them and
//!   [`masked_file`] masks them in the pipeline file's text, so that the
//!   excerpt under a start-up diagnostic does not show a password written
//!   in `url:` itself.

use std::fmt;

use mapwright_engine::diagnostic::SourceFile;
use mapwright_engine::spec::Located;

/// Text that may hold a credential: printed as `***` by `Debug` and
/// `Display`, so it cannot reach a log line or a dead letter by accident.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// Wraps text.
    pub(crate) fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The text itself, for the one place that needs it (a header, a
    /// connection string).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Secret texts to blank out of messages.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scrubber {
    /// Longest first, so that a secret containing another is blanked whole.
    secrets: Vec<String>,
}

impl Scrubber {
    /// Adds secrets. One or two characters would blank out ordinary words
    /// and hide nothing, so shorter texts are not kept.
    pub(crate) fn add(&mut self, secrets: impl IntoIterator<Item = String>) {
        self.secrets.extend(secrets.into_iter().filter(|s| s.chars().count() >= 3));
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
    }

    /// `text` with every secret replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}

/// The byte ranges of the secrets of a PostgreSQL url, in order: the
/// password of `postgres://user:password@host/db` and the values of
/// `password=` keys (url query parameters, or the key-value form
/// `host=h password=pw`, quoted or not).
pub(crate) fn postgres_secrets(url: &str) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = userinfo_password(url).into_iter().collect();
    ranges.extend(keyword_passwords(url));
    ranges.sort_unstable();
    ranges
}

/// The byte ranges of the secrets of NATS urls (several separated by
/// commas): the password of `nats://user:password@host`, or the token of
/// `nats://token@host`, in each.
pub(crate) fn nats_secrets(url: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut offset = 0;
    for one in url.split(',') {
        let range = userinfo_password(one).or_else(|| {
            let start = one.find("://")? + 3;
            let at = one[start..].rfind('@')?;
            Some((start, start + at))
        });
        if let Some((s, e)) = range {
            ranges.push((offset + s, offset + e));
        }
        offset += one.len() + 1;
    }
    ranges
}

/// The secret texts at `ranges` of `url`, for a [`Scrubber`].
pub(crate) fn texts(url: &str, ranges: &[(usize, usize)]) -> Vec<String> {
    ranges.iter().filter_map(|&(s, e)| url.get(s..e)).map(str::to_string).collect()
}

/// `url` with the parts at `ranges` replaced by `***`.
pub(crate) fn redact(url: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = url.to_string();
    for &(start, end) in ranges.iter().rev() {
        if url.get(start..end).is_some() {
            out.replace_range(start..end, "***");
        }
    }
    out
}

/// The pipeline file as diagnostics show it: the parts `ranges` of the
/// `url:` value (byte ranges into it), where they are written in the file
/// itself (not through `${NAME}`), masked with as many `*`, so that the
/// excerpt of the line under a message does not show them, and every
/// offset into the file stays where it was.
pub(crate) fn masked_file(file: &SourceFile, url: &Located<Secret>, ranges: &[(usize, usize)]) -> SourceFile {
    let raw = url.value.expose();
    let text = &file.text;
    // The lines the value is written on (its length may be unknown).
    let at = url.loc.offset.min(text.len());
    let start = text.get(..at).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
    let to = (at + url.loc.len).min(text.len());
    let end = text.get(to..).and_then(|t| t.find('\n')).map_or(text.len(), |i| to + i);
    let mut shown = text.to_string();
    let mut masked = false;
    for &(s, e) in ranges {
        let Some(secret) = raw.get(s..e) else { continue };
        if secret.is_empty() {
            continue;
        }
        let line = shown.get(start..end).unwrap_or("");
        let found: Vec<usize> = line.match_indices(secret).map(|(i, _)| start + i).collect();
        for i in found {
            shown.replace_range(i..i + secret.len(), &"*".repeat(secret.len()));
            masked = true;
        }
    }
    if !masked {
        return file.clone();
    }
    SourceFile::new(file.name.clone(), shown)
}

/// The byte range of the password in `scheme://user:password@host…`.
fn userinfo_password(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end_of_authority = rest.find('?').unwrap_or(rest.len());
    let at = rest[..end_of_authority].rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some((start + colon + 1, start + at))
}

/// The byte ranges of the values of `password=` keys (the key-value form,
/// or url query parameters), quoted or not.
fn keyword_passwords(text: &str) -> Vec<(usize, usize)> {
    let spaces = |s: &str| s.len() - s.trim_start_matches(' ').len();
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("password") {
        let key = from + i;
        from = key + "password".len();
        if !matches!(text[..key].chars().next_back(), None | Some(' ' | '?' | '&')) {
            continue;
        }
        let mut at = from + spaces(&text[from..]);
        if !text[at..].starts_with('=') {
            continue;
        }
        at += 1;
        at += spaces(&text[at..]);
        let value = &text[at..];
        let len = if let Some(quoted) = value.strip_prefix('\'') {
            // libpq's quoting: backslash escapes a quote or a backslash.
            let mut escaped = false;
            let close = quoted.char_indices().find(|&(_, c)| {
                let end = c == '\'' && !escaped;
                escaped = c == '\\' && !escaped;
                end
            });
            close.map_or(value.len(), |(j, _)| j + 2)
        } else {
            value.find([' ', '&']).unwrap_or(value.len())
        };
        ranges.push((at, at + len));
        from = at + len;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapwright_engine::spec::yaml::Loc;

    #[test]
    fn postgres_passwords_are_redacted_in_every_form() {
        let cases = [
            ("postgres://ann:s3cret@127.0.0.1:5432/shop", "postgres://ann:***@127.0.0.1:5432/shop"),
            ("postgresql://ann:p%40ss@db/shop?sslmode=disable", "postgresql://ann:***@db/shop?sslmode=disable"),
            ("postgres://ann@db/shop", "postgres://ann@db/shop"),
            ("postgres://db/shop?user=ann&password=s3cret", "postgres://db/shop?user=ann&password=***"),
            ("host=db user=ann password=s3cret dbname=shop", "host=db user=ann password=*** dbname=shop"),
            ("host=db password = 'a b\\' c' dbname=shop", "host=db password = *** dbname=shop"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url, &postgres_secrets(url)), shown, "{url}");
        }
    }

    #[test]
    fn nats_passwords_and_tokens_are_redacted_in_every_url_of_a_list() {
        let shown = |url: &str| redact(url, &nats_secrets(url));
        assert_eq!(shown("nats://app:s3cret@127.0.0.1:4222"), "nats://app:***@127.0.0.1:4222");
        assert_eq!(shown("nats://token@h:4222,nats://h2:4222"), "nats://***@h:4222,nats://h2:4222");
        assert_eq!(shown("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(shown("nats://h:1,nats://u:p4ss@h2:2"), "nats://h:1,nats://u:***@h2:2");
        let url = "nats://h:1,nats://t0ken@h:2";
        let mut scrubber = Scrubber::default();
        scrubber.add(texts(url, &nats_secrets(url)));
        assert_eq!(scrubber.scrub("bad t0ken"), "bad ***");
    }

    #[test]
    fn a_secret_never_prints() {
        let token = Secret::new("token s3cret");
        assert_eq!(format!("{token} {token:?}"), "*** \"***\"");
        assert_eq!(token.expose(), "token s3cret");
    }

    #[test]
    fn the_scrubber_blanks_long_secrets_first_and_ignores_tiny_ones() {
        let mut s = Scrubber::default();
        s.add(["abc".to_string(), "abcdef".to_string(), "x".to_string()]);
        assert_eq!(s.scrub("abcdef abc x"), "*** *** x");
    }

    #[test]
    fn a_password_written_in_the_url_is_masked_in_the_file_shown() {
        let text = "sink:\n  url: \"postgres://ann:s3cret@db/shop\"\n  table: s3cret_orders\n";
        let file = SourceFile::new("p.yaml", text);
        let offset = text.find("\"postgres").unwrap();
        let raw = "postgres://ann:s3cret@db/shop";
        let url = Located::new(Secret::new(raw), Loc::in_file(&file, offset, 31));
        let shown = masked_file(&file, &url, &postgres_secrets(raw));
        assert_eq!(&*shown.text, "sink:\n  url: \"postgres://ann:******@db/shop\"\n  table: s3cret_orders\n");
        let from_env = Located::new(Secret::new(raw), Loc::in_file(&file, offset, 0));
        let env_file = SourceFile::new("p.yaml", "sink:\n  url: \"${URL}\"\n");
        assert_eq!(masked_file(&env_file, &from_env, &postgres_secrets(raw)).text, env_file.text);
    }
}
