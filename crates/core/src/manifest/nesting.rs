//! Guards against documents nested so deeply that recursive code would exhaust the stack.
//!
//! JSON text never gets that deep (the parser stops at [`MAX_NESTING_DEPTH`]), but a
//! `serde_json::Value` built in code can. Schema validation, deserialization, formatting and
//! even dropping a `Value` recurse, so a deep value is refused up front, by a walk that itself
//! uses an explicit stack.

use serde_json::Value;

use super::error::push_segment;

/// How many arrays and objects may nest inside each other, the root included: the JSON parser's
/// own limit, so every manifest that parses also passes this check.
pub const MAX_NESTING_DEPTH: usize = 127;

enum Children<'a> {
    Array(std::iter::Enumerate<std::slice::Iter<'a, Value>>),
    Object(serde_json::map::Iter<'a>),
}

impl<'a> Children<'a> {
    fn of(value: &'a Value) -> Option<Self> {
        match value {
            Value::Array(items) => Some(Children::Array(items.iter().enumerate())),
            Value::Object(members) => Some(Children::Object(members.iter())),
            _ => None,
        }
    }

    fn next(&mut self) -> Option<(String, &'a Value)> {
        match self {
            Children::Array(items) => items.next().map(|(index, item)| (index.to_string(), item)),
            Children::Object(members) => members.next().map(|(key, value)| (key.clone(), value)),
        }
    }
}

/// The JSON pointer of the first container nested deeper than [`MAX_NESTING_DEPTH`], if any.
pub(crate) fn too_deep(root: &Value) -> Option<String> {
    let children = Children::of(root)?;
    // One entry per open container: the key that led into it, and its remaining children.
    let mut open: Vec<(String, Children<'_>)> = vec![(String::new(), children)];
    while let Some((_, children)) = open.last_mut() {
        let Some((key, child)) = children.next() else {
            open.pop();
            continue;
        };
        if let Some(grandchildren) = Children::of(child) {
            open.push((key, grandchildren));
            if open.len() > MAX_NESTING_DEPTH {
                let mut pointer = String::new();
                for (segment, _) in &open[1..] {
                    push_segment(&mut pointer, segment);
                }
                return Some(pointer);
            }
        }
    }
    None
}

/// Drops `value` without recursion, for values too deep for `Value`'s own (recursive) drop.
pub(crate) fn drop_iteratively(value: Value) {
    let mut pending = vec![value];
    while let Some(mut value) = pending.pop() {
        match &mut value {
            Value::Array(items) => pending.append(items),
            Value::Object(members) => {
                pending.extend(std::mem::take(members).into_iter().map(|(_, v)| v));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
pub(crate) fn nested_arrays(depth: usize) -> Value {
    let mut value = Value::Array(Vec::new());
    for _ in 1..depth {
        value = Value::Array(vec![value]);
    }
    value
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_limit_is_the_parsers() {
        let text = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let parsed: Value =
            serde_json::from_str(&text(MAX_NESTING_DEPTH)).expect("the parser accepts the limit");
        assert_eq!(too_deep(&parsed), None);
        assert!(serde_json::from_str::<Value>(&text(MAX_NESTING_DEPTH + 1)).is_err());
        assert_eq!(too_deep(&nested_arrays(MAX_NESTING_DEPTH)), None);
        assert_eq!(
            too_deep(&nested_arrays(MAX_NESTING_DEPTH + 1)),
            Some("/0".repeat(MAX_NESTING_DEPTH))
        );
    }

    #[test]
    fn names_the_path_into_a_deep_object() {
        let value = json!({"nodes": [{"params": {"a/b": nested_arrays(MAX_NESTING_DEPTH)}}]});
        let pointer = too_deep(&value).expect("too deep");
        assert!(pointer.starts_with("/nodes/0/params/a~1b/0/0"), "{pointer}");
        drop_iteratively(value);
    }

    #[test]
    fn a_very_deep_value_is_checked_and_dropped_without_recursion() {
        let value = nested_arrays(100_000);
        assert!(too_deep(&value).is_some());
        drop_iteratively(value);
    }
}
