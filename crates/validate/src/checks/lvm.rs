//! LVM configuration: the `devices { global_filter = [ … ] }` section of `lvm.conf`, and how
//! a filter judges a device.
//!
//! The format is `section { key = value }` with `#` comments; values are numbers, quoted
//! strings or `[ "…", "…" ]` lists, possibly over several lines. A filter entry is `a` (accept)
//! or `r` (reject), a delimiter, a regular expression and the same delimiter (`"r|^/dev/sdb|"`).
//! The first entry that matches any name of the device decides; a device that matches none is
//! accepted.

use regex::Regex;

/// A value in `lvm.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LvmValue {
    Scalar(String),
    List(Vec<String>),
}

/// One `key = value` setting with its section and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LvmSetting {
    pub section: String,
    pub key: String,
    pub value: LvmValue,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Punct(char),
}

fn tokens(text: &str) -> Vec<(Token, usize)> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut chars = line.chars().peekable();
        while let Some(ch) = chars.next() {
            match ch {
                '#' => break,
                '"' => {
                    let mut value = String::new();
                    while let Some(ch) = chars.next() {
                        match ch {
                            '\\' => value.extend(chars.next()),
                            '"' => break,
                            ch => value.push(ch),
                        }
                    }
                    out.push((Token::Text(value), index + 1));
                }
                '{' | '}' | '[' | ']' | '=' | ',' => out.push((Token::Punct(ch), index + 1)),
                ch if ch.is_whitespace() => {}
                ch => {
                    let mut word = String::from(ch);
                    while let Some(&next) = chars.peek() {
                        if next.is_whitespace() || "{}[]=,#\"".contains(next) {
                            break;
                        }
                        word.push(next);
                        chars.next();
                    }
                    out.push((Token::Word(word), index + 1));
                }
            }
        }
    }
    out
}

/// Every setting of an `lvm.conf`, in order.
pub(crate) fn parse(text: &str) -> Vec<LvmSetting> {
    let tokens = tokens(text);
    let mut settings = Vec::new();
    let mut sections: Vec<String> = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let (token, line) = &tokens[index];
        match token {
            Token::Word(word) => match tokens.get(index + 1).map(|(token, _)| token) {
                Some(Token::Punct('{')) => {
                    sections.push(word.clone());
                    index += 2;
                }
                Some(Token::Punct('=')) => {
                    let (value, next) = parse_value(&tokens, index + 2);
                    settings.push(LvmSetting {
                        section: sections.join("/"),
                        key: word.clone(),
                        value,
                        line: *line,
                    });
                    index = next;
                }
                _ => index += 1,
            },
            Token::Punct('}') => {
                sections.pop();
                index += 1;
            }
            _ => index += 1,
        }
    }
    settings
}

fn parse_value(tokens: &[(Token, usize)], start: usize) -> (LvmValue, usize) {
    match tokens.get(start).map(|(token, _)| token) {
        Some(Token::Punct('[')) => {
            let mut items = Vec::new();
            let mut index = start + 1;
            while let Some((token, _)) = tokens.get(index) {
                index += 1;
                match token {
                    Token::Punct(']') => break,
                    Token::Text(text) | Token::Word(text) => items.push(text.clone()),
                    Token::Punct(_) => {}
                }
            }
            (LvmValue::List(items), index)
        }
        Some(Token::Text(text) | Token::Word(text)) => (LvmValue::Scalar(text.clone()), start + 1),
        _ => (LvmValue::Scalar(String::new()), start + 1),
    }
}

/// Whether a filter entry accepts or rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterAction {
    Accept,
    Reject,
}

/// One compiled filter entry.
#[derive(Debug, Clone)]
pub(crate) struct FilterEntry {
    pub action: FilterAction,
    pub pattern: Regex,
    pub text: String,
}

/// A filter entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad filter entry {entry:?}: {reason}")]
pub(crate) struct FilterError {
    pub entry: String,
    pub reason: String,
}

/// Compiles `a|regex|` / `r/regex/` entries.
pub(crate) fn compile_filter(entries: &[String]) -> Result<Vec<FilterEntry>, FilterError> {
    entries
        .iter()
        .map(|entry| {
            let bad = |reason: &str| FilterError {
                entry: entry.clone(),
                reason: reason.to_owned(),
            };
            let mut chars = entry.chars();
            let action = match chars.next() {
                Some('a') => FilterAction::Accept,
                Some('r') => FilterAction::Reject,
                _ => return Err(bad("it must start with a or r")),
            };
            let delimiter = chars.next().ok_or_else(|| bad("no delimiter"))?;
            let body = chars.as_str();
            let end = body
                .rfind(delimiter)
                .ok_or_else(|| bad("no closing delimiter"))?;
            let pattern = body.get(..end).unwrap_or_default();
            let pattern = Regex::new(pattern).map_err(|err| bad(&err.to_string()))?;
            Ok(FilterEntry {
                action,
                pattern,
                text: entry.clone(),
            })
        })
        .collect()
}

/// What the filter does with a device known by `names`; the deciding entry, if one matched.
pub(crate) fn judge<'f>(
    filter: &'f [FilterEntry],
    names: &[&str],
) -> (FilterAction, Option<&'f FilterEntry>) {
    for entry in filter {
        if names.iter().any(|name| entry.pattern.is_match(name)) {
            return (entry.action, Some(entry));
        }
    }
    (FilterAction::Accept, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LVM_CONF: &str = "# comment\nconfig {\n\tcheck = 1\n}\ndevices {\n\
\tdir = \"/dev\"\n\t# global_filter = [ \"a|.*|\" ]\n\
\tglobal_filter = [ \"a|^/dev/sda2$|\",\n\t\t\"r|.*|\" ]\n\tuse_devicesfile = 0\n}\n";

    #[test]
    fn parses_sections_lists_and_lines() {
        let settings = parse(LVM_CONF);
        let filter = settings
            .iter()
            .find(|setting| setting.key == "global_filter")
            .unwrap();
        assert_eq!(filter.section, "devices");
        assert_eq!(filter.line, 8);
        assert_eq!(
            filter.value,
            LvmValue::List(vec!["a|^/dev/sda2$|".to_owned(), "r|.*|".to_owned()])
        );
        assert!(settings
            .iter()
            .any(|setting| setting.key == "use_devicesfile"
                && setting.value == LvmValue::Scalar("0".to_owned())));
    }

    #[test]
    fn first_match_wins_and_unmatched_is_accepted() {
        let filter =
            compile_filter(&["a|^/dev/sda2$|".to_owned(), "r|^/dev/sd|".to_owned()]).unwrap();
        assert_eq!(judge(&filter, &["/dev/sda2"]).0, FilterAction::Accept);
        assert_eq!(judge(&filter, &["/dev/sdb1"]).0, FilterAction::Reject);
        assert_eq!(judge(&filter, &["/dev/vdb"]).0, FilterAction::Accept);
        let err = compile_filter(&["x|y|".to_owned()]).unwrap_err();
        assert_eq!(err.reason, "it must start with a or r");
        let err = compile_filter(&["r|(|".to_owned()]).unwrap_err();
        assert!(err.to_string().starts_with("bad filter entry \"r|(|\""));
    }
}
