//! Docker's lookup rule for `{id}` in routes: full id, then exact name, then unique id prefix.

/// Result of resolving a reference against (id, name) pairs.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    Found(&'a str),
    NotFound,
    /// Several objects have this exact name.
    AmbiguousName(usize),
    /// Several ids start with this prefix.
    AmbiguousPrefix(usize),
}

pub fn resolve<'a, I>(reference: &str, items: I) -> Lookup<'a>
where
    I: Iterator<Item = (&'a str, &'a str)> + Clone,
{
    if reference.is_empty() {
        return Lookup::NotFound;
    }
    if let Some((id, _)) = items.clone().find(|(id, _)| *id == reference) {
        return Lookup::Found(id);
    }
    let by_name: Vec<&str> = items
        .clone()
        .filter(|(_, n)| *n == reference)
        .map(|(id, _)| id)
        .collect();
    match by_name.len() {
        1 => return Lookup::Found(by_name[0]),
        n if n > 1 => return Lookup::AmbiguousName(n),
        _ => {}
    }
    if !reference.chars().all(|c| c.is_ascii_hexdigit()) {
        return Lookup::NotFound;
    }
    let by_prefix: Vec<&str> = items
        .filter(|(id, _)| id.starts_with(reference))
        .map(|(id, _)| id)
        .collect();
    match by_prefix.len() {
        0 => Lookup::NotFound,
        1 => Lookup::Found(by_prefix[0]),
        n => Lookup::AmbiguousPrefix(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_rules() {
        let items = [
            ("abc123", "web"),
            ("abd456", "db"),
            ("ffff", "abc"),
            ("0001", "dup"),
            ("0002", "dup"),
        ];
        let it = || items.iter().map(|(a, b)| (*a, *b));
        assert_eq!(resolve("abc123", it()), Lookup::Found("abc123"));
        assert_eq!(resolve("web", it()), Lookup::Found("abc123"));
        // exact name wins over an id prefix
        assert_eq!(resolve("abc", it()), Lookup::Found("ffff"));
        assert_eq!(resolve("abd", it()), Lookup::Found("abd456"));
        assert_eq!(resolve("ab", it()), Lookup::AmbiguousPrefix(2));
        assert_eq!(resolve("dup", it()), Lookup::AmbiguousName(2));
        assert_eq!(resolve("we", it()), Lookup::NotFound);
        assert_eq!(resolve("", it()), Lookup::NotFound);
    }
}
