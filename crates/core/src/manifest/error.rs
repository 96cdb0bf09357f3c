//! What is wrong with a manifest, and where.

use std::fmt;

use serde::Serialize;

/// One problem in a manifest.
///
/// `pointer` is the RFC 6901 JSON pointer of the value at fault (`/nodes/2/id`); it is empty when
/// the problem concerns the whole document, such as malformed JSON or a missing top-level field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ManifestError {
    /// Where the problem is: a JSON pointer into the manifest, `""` for the whole document.
    pub pointer: String,
    /// What is wrong, readable by the person who wrote the manifest.
    pub message: String,
}

impl ManifestError {
    /// A problem at `pointer`.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// A problem with the whole document.
    pub fn at_root(message: impl Into<String>) -> Self {
        Self::new("", message)
    }
}

/// `/nodes/2/id: duplicate node id 'a' ...`; `(root)` stands for the empty pointer.
impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "(root): {}", self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

impl std::error::Error for ManifestError {}

/// Every problem found in a manifest, in document order; never empty.
///
/// Its `Display` lists them all, one per line, so `?` into `anyhow` tells the whole story.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", list(.errors))]
pub struct ManifestErrors {
    errors: Vec<ManifestError>,
}

fn list(errors: &[ManifestError]) -> String {
    let plural = if errors.len() == 1 { "" } else { "s" };
    let mut text = format!("invalid manifest ({} error{plural}):", errors.len());
    for error in errors {
        text.push_str("\n  ");
        text.push_str(&error.to_string());
    }
    text
}

impl ManifestErrors {
    /// Wraps the problems found; `None` when there are none.
    pub fn from_vec(errors: Vec<ManifestError>) -> Option<Self> {
        (!errors.is_empty()).then_some(Self { errors })
    }

    pub(crate) fn single(error: ManifestError) -> Self {
        Self {
            errors: vec![error],
        }
    }

    /// The problems, in document order.
    pub fn errors(&self) -> &[ManifestError] {
        &self.errors
    }

    /// How many problems were found (at least one).
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false: a `ManifestErrors` holds at least one error.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems, by value.
    pub fn into_vec(self) -> Vec<ManifestError> {
        self.errors
    }
}

impl IntoIterator for ManifestErrors {
    type Item = ManifestError;
    type IntoIter = std::vec::IntoIter<ManifestError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

impl<'a> IntoIterator for &'a ManifestErrors {
    type Item = &'a ManifestError;
    type IntoIter = std::slice::Iter<'a, ManifestError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

/// Appends one escaped RFC 6901 segment (`~` → `~0`, `/` → `~1`) to `pointer`.
pub(crate) fn push_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    for ch in segment.chars() {
        match ch {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            _ => pointer.push(ch),
        }
    }
}

/// `pointer` followed by one escaped segment.
pub(crate) fn join_pointer(pointer: &str, segment: &str) -> String {
    let mut joined = pointer.to_owned();
    push_segment(&mut joined, segment);
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_every_error_and_names_the_root() {
        let errors = ManifestErrors::from_vec(vec![
            ManifestError::at_root("missing required field 'nodes'"),
            ManifestError::new("/metadata/name", "must not be empty"),
        ])
        .expect("two errors");
        assert_eq!(
            errors.to_string(),
            "invalid manifest (2 errors):\n  (root): missing required field 'nodes'\n  \
             /metadata/name: must not be empty"
        );
        assert!(ManifestErrors::from_vec(Vec::new()).is_none());
    }

    #[test]
    fn pointer_segments_are_escaped() {
        assert_eq!(join_pointer("/nodes/0", "a/b~c"), "/nodes/0/a~1b~0c");
    }
}
