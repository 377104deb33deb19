//! SQL identifiers: validated (letters, digits, underscores; not starting with a digit) and always
//! double-quoted, so a table or column name can neither inject SQL nor change meaning by case.

use crate::error::{Error, Result};

/// Longest name accepted; leaves room for the sink's suffixes within PostgreSQL's 63 bytes.
pub const MAX_LEN: usize = 48;

pub fn validate(name: &str, what: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || name.len() > MAX_LEN || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::config(format!(
            "{what} {name:?} is not a valid identifier: use up to {MAX_LEN} letters, digits and underscores, not starting with a digit"
        )));
    }
    Ok(())
}

/// `name` double-quoted (callers validate first; quotes are doubled anyway).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn quote_list<S: AsRef<str>>(names: &[S]) -> String {
    names.iter().map(|n| quote(n.as_ref())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked_and_quoted() {
        assert!(validate("payments_2026", "table").is_ok());
        assert!(validate("_x", "table").is_ok());
        for bad in ["", "1abc", "a b", "a;drop table x", "a\"b", &"x".repeat(MAX_LEN + 1)] {
            assert!(validate(bad, "table").is_err(), "{bad}");
        }
        assert_eq!(quote("amount"), "\"amount\"");
        assert_eq!(quote_list(&["a", "b"]), "\"a\", \"b\"");
    }
}
