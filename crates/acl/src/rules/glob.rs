//! Name patterns: `*` matches any run of characters, `?` any one; everything else is literal.

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// The pattern's text up to its first wildcard (all of it for a literal pattern): compared
    /// as bytes before any character-wise matching.
    prefix: Box<str>,
    /// The pattern as characters; empty for a literal pattern, which needs only `prefix`.
    pattern: Vec<char>,
    literal: bool,
}

impl Glob {
    /// Compiles a pattern.
    pub fn new(pattern: &str) -> Self {
        let wildcard = pattern.find(['*', '?']);
        Self {
            prefix: pattern[..wildcard.unwrap_or(pattern.len())].into(),
            pattern: match wildcard {
                Some(_) => pattern.chars().collect(),
                None => Vec::new(),
            },
            literal: wildcard.is_none(),
        }
    }

    /// Whether `text` matches. No allocation: this runs on every access check.
    pub fn matches(&self, text: &str) -> bool {
        if self.literal {
            return *self.prefix == *text;
        }
        if !text.starts_with(&*self.prefix) {
            return false;
        }
        let next_char = |at: usize| text.get(at..).and_then(|rest| rest.chars().next());
        // Iterative matching with one backtrack point for the last `*`: linear in practice,
        // never exponential. `p` indexes the pattern's chars, `t` the text's bytes.
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while let Some(c) = next_char(t) {
            match self.pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some('?') => {
                    p += 1;
                    t += c.len_utf8();
                }
                Some(&pc) if pc == c => {
                    p += 1;
                    t += c.len_utf8();
                }
                _ => match star {
                    Some((sp, st)) => {
                        let skipped = next_char(st).map_or(1, char::len_utf8);
                        p = sp + 1;
                        t = st + skipped;
                        star = Some((sp, t));
                    }
                    None => return false,
                },
            }
        }
        self.pattern[p..].iter().all(|c| *c == '*')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(Glob::new("web-*").matches("web-1"));
        assert!(Glob::new("web-*").matches("web-"));
        assert!(!Glob::new("web-*").matches("db-1"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("a?c").matches("abc"));
        assert!(!Glob::new("a?c").matches("ac"));
        assert!(Glob::new("*b*d").matches("abcbd"));
        assert!(Glob::new("demo").matches("demo"));
        assert!(!Glob::new("demo").matches("demo2"));
        assert!(Glob::new("CN=*,O=Example").matches("CN=alice,O=Example"));
        assert!(!Glob::new("a*a*a*a*b").matches(&"a".repeat(200)));
        assert!(Glob::new("é?-*").matches("éü-x"));
        assert!(Glob::new("*ü").matches("aaü"));
        assert!(!Glob::new("?").matches("üü"));
        // The literal prefix is checked first; shorter texts and other prefixes fail there.
        assert!(!Glob::new("web-*").matches("we"));
        assert!(!Glob::new("web-*").matches("Web-1"));
        assert!(Glob::new("a*").matches("a"));
        assert!(Glob::new("ü*x").matches("üaax"));
        assert!(!Glob::new("demo").matches("dem"));
        assert!(Glob::new("").matches(""));
        assert!(!Glob::new("").matches("a"));
    }
}
