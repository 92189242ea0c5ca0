//! Key paths (`engines.plant.step_ms`, `links[2].to`): parsing and printing them, finding them in the
//! text of a file (via toml_edit's spans), guessing them from a span, and applying `--set` overrides.

use std::ops::Range;

use toml_edit::{Array, ArrayOfTables, Document, DocumentMut, InlineTable, Item, Table, Value};

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A table key.
    Key(String),
    /// An array element.
    Index(usize),
}

/// Prints a key for a path: bare when it is a valid bare TOML key, quoted otherwise.
pub(crate) fn fmt_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key.to_string()
    } else {
        let mut s = String::from("\"");
        for c in key.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                c => s.push(c),
            }
        }
        s.push('"');
        s
    }
}

/// `prefix.key` (or `key` when the prefix is empty).
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        fmt_key(key)
    } else {
        format!("{prefix}.{}", fmt_key(key))
    }
}

/// Parses a key path; `None` if it is malformed (empty key, unclosed quote or bracket).
pub(crate) fn parse_path(path: &str) -> Option<Vec<Seg>> {
    let chars: Vec<char> = path.trim().chars().collect();
    let mut segs = Vec::new();
    let mut i = 0;
    // Whether a key is expected next (start, or after a '.').
    let mut need_key = true;
    while i < chars.len() {
        match chars[i] {
            '[' if !need_key => {
                let close = chars[i..].iter().position(|&c| c == ']')? + i;
                let digits: String = chars[i + 1..close].iter().collect();
                segs.push(Seg::Index(digits.trim().parse().ok()?));
                i = close + 1;
            }
            '.' if !need_key => {
                need_key = true;
                i += 1;
            }
            '"' if need_key => {
                let mut key = String::new();
                i += 1;
                loop {
                    match chars.get(i)? {
                        '"' => break,
                        '\\' => {
                            key.push(*chars.get(i + 1)?);
                            i += 2;
                        }
                        c => {
                            key.push(*c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                segs.push(Seg::Key(key));
                need_key = false;
            }
            _ if need_key => {
                let start = i;
                while i < chars.len() && !matches!(chars[i], '.' | '[' | ']' | '"') {
                    i += 1;
                }
                let key: String = chars[start..i]
                    .iter()
                    .collect::<String>()
                    .trim()
                    .to_string();
                if key.is_empty() {
                    return None;
                }
                segs.push(Seg::Key(key));
                need_key = false;
            }
            _ => return None,
        }
    }
    if need_key {
        return None;
    }
    Some(segs)
}

/// Prints a parsed path.
pub(crate) fn fmt_path(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => s = join(&s, k),
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// A position while walking a document.
#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a Table),
    Inline(&'a InlineTable),
    Tables(&'a ArrayOfTables),
    Array(&'a Array),
    Leaf,
}

fn node_of_item(item: &Item) -> Node<'_> {
    match item {
        Item::Table(t) => Node::Table(t),
        Item::ArrayOfTables(a) => Node::Tables(a),
        Item::Value(v) => node_of_value(v),
        Item::None => Node::Leaf,
    }
}

fn node_of_value(value: &Value) -> Node<'_> {
    match value {
        Value::InlineTable(t) => Node::Inline(t),
        Value::Array(a) => Node::Array(a),
        _ => Node::Leaf,
    }
}

/// Span of the deepest part of `segs` found in `doc`, and whether the whole path was found.
fn find(doc: &Document<&str>, segs: &[Seg]) -> (Option<Range<usize>>, bool) {
    let mut node = Node::Table(doc.as_table());
    let mut best = None;
    for seg in segs {
        let next = match (seg, node) {
            (Seg::Key(k), Node::Table(t)) => t
                .get_key_value(k)
                .map(|(key, item)| (key.span(), node_of_item(item))),
            (Seg::Key(k), Node::Inline(t)) => t
                .get_key_value(k)
                .map(|(key, item)| (key.span(), node_of_item(item))),
            (Seg::Index(i), Node::Tables(a)) => a.get(*i).map(|t| (t.span(), Node::Table(t))),
            (Seg::Index(i), Node::Array(a)) => a.get(*i).map(|v| (v.span(), node_of_value(v))),
            _ => None,
        };
        match next {
            Some((span, n)) => {
                best = span.or(best);
                node = n;
            }
            None => return (best, false),
        }
    }
    (best, true)
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Finds key paths in one text.
pub(crate) struct Locator<'a> {
    text: &'a str,
    doc: Option<Document<&'a str>>,
}

impl<'a> Locator<'a> {
    /// A locator for `text` (which may fail to parse; then nothing is found).
    pub(crate) fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: Document::parse(text).ok(),
        }
    }

    /// Line and column of the key at `path`; `exact` requires the whole path to exist, otherwise the
    /// deepest existing ancestor is used.
    pub(crate) fn locate(&self, path: &str, exact: bool) -> Option<(usize, usize)> {
        let doc = self.doc.as_ref()?;
        let segs = parse_path(path)?;
        let (span, found) = find(doc, &segs);
        if exact && !found {
            return None;
        }
        span.map(|s| line_col(self.text, s.start))
    }

    /// The key path whose key or value contains byte `offset` (the deepest one), if any.
    pub(crate) fn path_at(&self, offset: usize) -> Option<String> {
        let doc = self.doc.as_ref()?;
        let mut best: Option<(usize, String)> = None;
        let mut visit = |path: &str, span: Option<Range<usize>>| {
            if let Some(s) = span {
                let contains = s.start <= offset
                    && (offset < s.end || (s.start == s.end && offset == s.start));
                if contains && best.as_ref().is_none_or(|(len, _)| s.end - s.start <= *len) {
                    best = Some((s.end - s.start, path.to_string()));
                }
            }
        };
        walk(Node::Table(doc.as_table()), "", &mut visit);
        best.map(|(_, p)| p)
    }
}

/// Calls `visit(path, span)` for every key span and value span under `node`.
fn walk(node: Node<'_>, prefix: &str, visit: &mut dyn FnMut(&str, Option<Range<usize>>)) {
    match node {
        Node::Table(t) => {
            for (k, _) in t.iter() {
                if let Some((key, item)) = t.get_key_value(k) {
                    let path = join(prefix, k);
                    visit(&path, key.span());
                    visit(&path, item.span());
                    walk(node_of_item(item), &path, visit);
                }
            }
        }
        Node::Inline(t) => {
            for (k, _) in t.iter() {
                if let Some((key, item)) = t.get_key_value(k) {
                    let path = join(prefix, k);
                    visit(&path, key.span());
                    visit(&path, item.span());
                    walk(node_of_item(item), &path, visit);
                }
            }
        }
        Node::Tables(a) => {
            for (i, t) in a.iter().enumerate() {
                let path = format!("{prefix}[{i}]");
                visit(&path, t.span());
                walk(Node::Table(t), &path, visit);
            }
        }
        Node::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let path = format!("{prefix}[{i}]");
                visit(&path, v.span());
                walk(node_of_value(v), &path, visit);
            }
        }
        Node::Leaf => {}
    }
}

/// Applies one `key.path=value` override to `doc`. Returns the key path as parsed, or an error text.
pub(crate) fn apply_override(doc: &mut DocumentMut, text: &str) -> Result<Vec<Seg>, String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err("an override must look like key.path=value".into());
    };
    let key = key.trim();
    if key.is_empty() {
        return Err("the key of an override must not be empty".into());
    }
    let Some(segs) = parse_path(key) else {
        return Err(format!(
            "\"{key}\" is not a key path like engines.plant.seed or links[0].to"
        ));
    };
    // An override changes the file's engines, it does not add one (a typo would make a new, empty
    // engine and a puzzling error elsewhere).
    if let [Seg::Key(top), Seg::Key(name), ..] = segs.as_slice() {
        if top == "engines" {
            let names: Vec<String> = doc
                .get("engines")
                .and_then(Item::as_table_like)
                .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
                .unwrap_or_default();
            if !names.iter().any(|n| n == name) {
                return Err(format!(
                    "the file has no engine \"{name}\" (its engines: {}); --set changes the file's engines, it does not add one",
                    names.join(", ")
                ));
            }
        }
    }
    let raw = value.trim();
    let mut value = match raw.parse::<Value>() {
        Ok(v) => v,
        Err(_) => Value::from(raw),
    };
    value.decor_mut().clear();
    set_in_table(doc.as_table_mut(), &segs, value, "")?;
    Ok(segs)
}

fn set_in_table(table: &mut Table, segs: &[Seg], value: Value, prefix: &str) -> Result<(), String> {
    let Some((Seg::Key(k), rest)) = segs.split_first() else {
        return Err(format!("{prefix} is a table, not an array"));
    };
    let path = join(prefix, k);
    if rest.is_empty() {
        table.insert(k, Item::Value(value));
        return Ok(());
    }
    if !table.contains_key(k) {
        let mut t = Table::new();
        t.set_implicit(true);
        table.insert(k, Item::Table(t));
    }
    match table.get_mut(k) {
        Some(item) => set_in_item(item, rest, value, &path),
        None => Err(format!("cannot create {path}")),
    }
}

fn set_in_item(item: &mut Item, segs: &[Seg], value: Value, prefix: &str) -> Result<(), String> {
    match (item, segs.first()) {
        (Item::Table(t), _) => set_in_table(t, segs, value, prefix),
        (Item::Value(v), _) => set_in_value(v, segs, value, prefix),
        (Item::ArrayOfTables(a), Some(Seg::Index(i))) => {
            let len = a.len();
            let path = format!("{prefix}[{i}]");
            match a.get_mut(*i) {
                None => Err(format!("{prefix} has {len} element(s), there is no [{i}]")),
                Some(_) if segs.len() == 1 => {
                    Err(format!("cannot replace the table {path} by a value"))
                }
                Some(t) => set_in_table(t, &segs[1..], value, &path),
            }
        }
        _ => Err(format!("{prefix} is not a table")),
    }
}

fn set_in_value(
    target: &mut Value,
    segs: &[Seg],
    value: Value,
    prefix: &str,
) -> Result<(), String> {
    let Some((seg, rest)) = segs.split_first() else {
        *target = value;
        return Ok(());
    };
    match (target, seg) {
        (Value::InlineTable(t), Seg::Key(k)) => {
            let path = join(prefix, k);
            if rest.is_empty() {
                t.insert(k, value);
                return Ok(());
            }
            if !t.contains_key(k) {
                t.insert(k, Value::InlineTable(InlineTable::new()));
            }
            match t.get_mut(k) {
                Some(v) => set_in_value(v, rest, value, &path),
                None => Err(format!("cannot create {path}")),
            }
        }
        (Value::Array(a), Seg::Index(i)) => {
            let len = a.len();
            match a.get_mut(*i) {
                Some(v) => set_in_value(v, rest, value, &format!("{prefix}[{i}]")),
                None => Err(format!("{prefix} has {len} element(s), there is no [{i}]")),
            }
        }
        (Value::Array(_), Seg::Key(_)) => Err(format!("{prefix} is an array, not a table")),
        (Value::InlineTable(_), Seg::Index(_)) => Err(format!("{prefix} is a table, not an array")),
        _ => Err(format!("{prefix} is a value, not a table or an array")),
    }
}
