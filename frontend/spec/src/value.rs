//! The spec as a tree of spanned TOML values, in source order.
//!
//! Built from `toml`'s spanned parse tree (`toml::de::DeTable`); owning, so that
//! overrides can be merged into copies of it.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diag::Diagnostic;
use crate::source::{SourceFile, Span};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub kind: Kind,
    /// The value as written; for a `[table]` its header, for an implicit table
    /// (`a` in `[a.b]` or `a.b = 1`) its first key.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Str(Str),
    Int(i64),
    /// As written.
    Float(String),
    Bool(bool),
    /// As written.
    Datetime(String),
    Array(Vec<Value>),
    Table(Table),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Str {
    pub text: String,
    /// Where `text` starts in the source when it is written there verbatim (a
    /// string without escapes), so that a part of it can be pointed at.
    pub verbatim_at: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Table {
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Value,
}

impl Value {
    pub fn str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(&s.text),
            _ => None,
        }
    }

    pub fn table(&self) -> Option<&Table> {
        match &self.kind {
            Kind::Table(t) => Some(t),
            _ => None,
        }
    }

    pub fn array(&self) -> Option<&[Value]> {
        match &self.kind {
            Kind::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Span of the part `start..end` (byte offsets in the string's text), or of
    /// the whole value when the string is not written verbatim.
    pub fn sub_span(&self, start: usize, end: usize) -> Span {
        match &self.kind {
            Kind::Str(Str {
                verbatim_at: Some(at),
                text,
            }) if end <= text.len() => Span::new(at + start, at + end),
            _ => self.span,
        }
    }

    /// "a string", "an integer", ...
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Str(_) => "a string",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a float",
            Kind::Bool(_) => "a boolean",
            Kind::Datetime(_) => "a date-time",
            Kind::Array(_) => "an array",
            Kind::Table(_) => "a table",
        }
    }

    /// A scalar as TOML text (for "write it as a string" help).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(f.clone()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Datetime(d) => Some(d.clone()),
            Kind::Str(s) => Some(s.text.clone()),
            _ => None,
        }
    }
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    pub fn value(&self, key: &str) -> Option<&Value> {
        self.get(key).map(|e| &e.value)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    /// A copy without the given keys.
    pub fn without(&self, keys: &[&str]) -> Table {
        Table {
            entries: self
                .entries
                .iter()
                .filter(|e| !keys.contains(&e.key.as_str()))
                .cloned()
                .collect(),
        }
    }
}

/// Parse TOML. Syntax errors become diagnostics at the parser's span.
pub(crate) fn parse(file: &SourceFile) -> Result<Table, Vec<Diagnostic>> {
    let (root, errors) = DeTable::parse_recoverable(&file.text);
    if !errors.is_empty() {
        let mut diags: Vec<Diagnostic> = Vec::new();
        for e in errors {
            let d = toml_error(file, &e);
            if !diags.contains(&d) {
                diags.push(d);
            }
        }
        return Err(diags);
    }
    let mut diags = Vec::new();
    let table = convert_table(file, root.get_ref(), &mut diags);
    if diags.is_empty() {
        Ok(table)
    } else {
        Err(diags)
    }
}

fn toml_error(file: &SourceFile, e: &toml::de::Error) -> Diagnostic {
    let msg = e.message().trim();
    let mut lines = msg.lines();
    let first = lines.next().unwrap_or("syntax error").trim();
    let mut d = Diagnostic::error(format!("invalid TOML: {first}"));
    d = match e.span() {
        Some(r) => d.with_primary(file.clamp_span(Span::new(r.start, r.end)), first),
        None => d,
    };
    for rest in lines {
        let rest = rest.trim();
        if !rest.is_empty() {
            d = d.with_note(rest);
        }
    }
    d
}

fn span_of<T>(s: &Spanned<T>) -> Span {
    let r = s.span();
    Span::new(r.start, r.end)
}

fn convert_table(file: &SourceFile, t: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Table {
    let mut entries: Vec<Entry> = t
        .iter()
        .map(|(k, v)| Entry {
            key: k.get_ref().to_string(),
            key_span: span_of(k),
            value: convert_value(file, v, diags),
        })
        .collect();
    entries.sort_by_key(|e| (e.key_span.start, e.key_span.end));
    Table { entries }
}

fn convert_value(
    file: &SourceFile,
    v: &Spanned<DeValue<'_>>,
    diags: &mut Vec<Diagnostic>,
) -> Value {
    let span = span_of(v);
    let kind = match v.get_ref() {
        DeValue::String(s) => Kind::Str(Str {
            text: s.to_string(),
            verbatim_at: verbatim_at(file, span, s),
        }),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Kind::Int(n),
            Err(_) => {
                diags.push(
                    Diagnostic::error(format!("integer `{i}` is out of range"))
                        .with_primary(span, "does not fit in 64 bits"),
                );
                Kind::Int(0)
            }
        },
        DeValue::Float(f) => Kind::Float(f.as_str().to_string()),
        DeValue::Boolean(b) => Kind::Bool(*b),
        DeValue::Datetime(d) => Kind::Datetime(d.to_string()),
        DeValue::Array(a) => Kind::Array(a.iter().map(|x| convert_value(file, x, diags)).collect()),
        DeValue::Table(t) => Kind::Table(convert_table(file, t, diags)),
    };
    Value { kind, span }
}

/// Where the string's content starts in the source, if written without escapes.
fn verbatim_at(file: &SourceFile, span: Span, content: &str) -> Option<usize> {
    let raw = file.slice(span)?;
    for quote in ["\"\"\"", "'''", "\"", "'"] {
        if raw.len() >= 2 * quote.len() && raw.starts_with(quote) && raw.ends_with(quote) {
            let inner = raw.get(quote.len()..raw.len() - quote.len())?;
            if inner == content {
                return Some(span.start + quote.len());
            }
            // A multi-line string drops a newline right after the opening quotes.
            if quote.len() == 3 {
                for nl in ["\n", "\r\n"] {
                    if inner.strip_prefix(nl) == Some(content) {
                        return Some(span.start + quote.len() + nl.len());
                    }
                }
            }
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Table {
        match parse(&SourceFile::new("t.toml", text)) {
            Ok(t) => t,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn spans_and_order() {
        let text = "version = 1\n[system]\npackages = [\"a\", 'b']\n[image]\nbase = \"x${A}\"\nenv.K = \"v\\n\"\n";
        let t = parse_ok(text);
        let keys: Vec<_> = t.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["version", "system", "image"]);
        let sys = t.value("system").and_then(Value::table).unwrap();
        assert_eq!(&text[t.value("system").unwrap().span.range()], "[system]");
        let pk = sys.get("packages").unwrap();
        assert_eq!(&text[pk.key_span.range()], "packages");
        assert_eq!(&text[pk.value.span.range()], "[\"a\", 'b']");
        let b = &pk.value.array().unwrap()[1];
        assert_eq!(&text[b.sub_span(0, 1).range()], "b");
        let img = t.value("image").and_then(Value::table).unwrap();
        let base = img.value("base").unwrap();
        assert_eq!(&text[base.sub_span(1, 5).range()], "${A}");
        let env = img.value("env").and_then(Value::table).unwrap();
        let k = env.value("K").unwrap();
        // Escaped string: parts point at the whole value.
        assert_eq!(k.sub_span(0, 1), k.span);
    }

    #[test]
    fn syntax_error_has_span() {
        let f = SourceFile::new("t.toml", "version = 1\n[system\n");
        let e = parse(&f).unwrap_err();
        assert!(e[0].message.starts_with("invalid TOML"), "{e:?}");
        assert!(e[0].primary.is_some());
    }
}
