//! The shape of an HTML body as the HTML parser will build it, measured in one linear pass
//! before the parser runs, so that HTML whose tree would cost more than a bounded time to
//! build, sanitise or convert is read as plain text instead.
//!
//! The pass tokenises as html5ever does (tags with quoted attributes, comments, raw-text
//! elements) and keeps a model of the parser's stack of open elements and list of active
//! formatting elements, following the tree-construction rules that decide nesting: a close
//! tag pops only what the parser would pop (one that closes nothing is ignored, so it cannot
//! hide depth), `<p>`, `<li>` and table parts close their predecessors, void elements never
//! nest, `/>` closes only inside SVG and MathML, formatting elements closed implicitly are
//! reopened before the next text (and counted again). Where the model simplifies, it errs
//! towards more depth and more elements, never fewer. It also counts the parser's own
//! stack walks (`work`), which are what makes some shapes quadratic inside html5ever.
//!
//! It must never cost more than linear time itself: every walk is charged to `work`, and the
//! pass stops at the first limit exceeded.

use std::borrow::Cow;

mod tags;
mod tree;

use tree::Tree;

/// What the HTML would build, as far as the pass went (it stops at the first limit passed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The deepest nesting of open elements.
    pub depth: usize,
    /// Nodes created: elements (implied ones and reopened formatting elements included),
    /// text runs and comments. Building, sanitising and converting cost about the same for
    /// each.
    pub nodes: usize,
    /// Attributes on all elements.
    pub attributes: usize,
    /// The most attributes on one element (the tokenizer's duplicate check is quadratic).
    pub attributes_on_one: usize,
    /// Table cells.
    pub cells: usize,
    /// The most cells in one table row (`<td>` without `<tr>` all land in one row).
    pub cells_in_one_row: usize,
    /// `<template>` and `<frameset>` start tags: what follows them is parsed in insertion
    /// modes of their own that the model does not follow, and mail has no use for them.
    pub unfollowed: usize,
    /// Steps of the parser's walks over its stack, its formatting list and the siblings of a
    /// table it inserts misplaced content before, plus the depth of each text run (which
    /// the conversion to text repeats as indentation and quote marks).
    pub work: usize,
}

/// Bounds on a [`Shape`]; past any of them the HTML is not parsed as HTML.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// See [`Shape::depth`].
    pub depth: usize,
    /// See [`Shape::nodes`].
    pub nodes: usize,
    /// See [`Shape::attributes`].
    pub attributes: usize,
    /// See [`Shape::attributes_on_one`].
    pub attributes_on_one: usize,
    /// See [`Shape::cells`].
    pub cells: usize,
    /// See [`Shape::cells_in_one_row`].
    pub cells_in_one_row: usize,
    /// See [`Shape::unfollowed`].
    pub unfollowed: usize,
    /// See [`Shape::work`].
    pub work: usize,
}

impl Shape {
    fn exceeds(&self, l: &Limits) -> bool {
        self.depth > l.depth
            || self.nodes > l.nodes
            || self.attributes > l.attributes
            || self.attributes_on_one > l.attributes_on_one
            || self.cells > l.cells
            || self.cells_in_one_row > l.cells_in_one_row
            || self.unfollowed > l.unfollowed
            || self.work > l.work
    }
}

/// Measures `html`; `Err` with the shape so far as soon as a limit is exceeded.
pub fn measure(html: &str, limits: &Limits) -> Result<Shape, Shape> {
    let mut tree = Tree::new(limits);
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let Some(lt) = memchr(b'<', &bytes[i..]).map(|p| i + p) else {
            tree.text(&html[i..]);
            break;
        };
        if lt > i {
            tree.text(&html[i..lt]);
        }
        i = lt;
        let next = bytes.get(i + 1).copied();
        match next {
            Some(c) if c.is_ascii_alphabetic() => {
                let Some(tag) = read_tag(html, i + 1) else { break }; // EOF inside a tag: dropped
                i = tag.end;
                if tag.raw_text && !tree.in_foreign() {
                    tree.start(&tag);
                    tree.pop_named(&tag.name);
                    if tag.name == "plaintext" {
                        tree.text(&html[i..]);
                        break;
                    }
                    let end = skip_raw_text(html, i, &tag.name);
                    tree.after_text = false;
                    i = end;
                } else {
                    tree.start(&tag);
                }
            }
            Some(b'/') => match bytes.get(i + 2).copied() {
                Some(c) if c.is_ascii_alphabetic() => {
                    let Some(tag) = read_tag(html, i + 2) else { break };
                    i = tag.end;
                    tree.end(&tag.name);
                }
                Some(b'>') => i += 3,
                _ => {
                    tree.comment();
                    i = bogus_comment_end(bytes, i + 2);
                }
            },
            Some(b'!') if bytes[i + 2..].starts_with(b"--") => {
                tree.comment();
                i = comment_end(bytes, i + 4);
            }
            Some(b'!') | Some(b'?') => {
                tree.comment();
                i = bogus_comment_end(bytes, i + 2);
            }
            _ => {
                tree.text("<");
                i += 1;
            }
        }
        if tree.shape.exceeds(limits) {
            return Err(tree.shape);
        }
    }
    if tree.shape.exceeds(limits) { Err(tree.shape) } else { Ok(tree.shape) }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// After `<!--`: the end of the comment (`-->`, `--!>`, or the abrupt `<!-->`, `<!--->`).
fn comment_end(bytes: &[u8], from: usize) -> usize {
    let rest = &bytes[from.min(bytes.len())..];
    if rest.starts_with(b">") {
        return from + 1;
    }
    if rest.starts_with(b"->") {
        return from + 2;
    }
    let mut i = 0;
    while let Some(p) = find(&rest[i..], b"--") {
        let after = i + p + 2;
        if rest[after..].starts_with(b">") {
            return from + after + 1;
        }
        if rest[after..].starts_with(b"!>") {
            return from + after + 2;
        }
        i = i + p + 1;
    }
    bytes.len()
}

/// A bogus comment (`<!…>`, `<?…>`, `</9…>`, and DOCTYPE) ends at the first `>`.
fn bogus_comment_end(bytes: &[u8], from: usize) -> usize {
    let from = from.min(bytes.len());
    memchr(b'>', &bytes[from..]).map_or(bytes.len(), |p| from + p + 1)
}

/// After a raw-text element's start tag: past its content (to `</name` followed by a space,
/// `/` or `>`, any case), or the end.
fn skip_raw_text(html: &str, from: usize, name: &str) -> usize {
    let bytes = html.as_bytes();
    let mut i = from;
    while let Some(p) = find(&bytes[i..], b"</") {
        let start = i + p + 2;
        let end = start + name.len();
        if bytes.get(start..end).is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
            && matches!(bytes.get(end), Some(b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>'))
        {
            return start - 2;
        }
        i = start;
    }
    bytes.len()
}

/// A start or end tag as the tokenizer reads it.
struct Tag<'a> {
    name: Cow<'a, str>,
    /// The text of the attributes (compared for the parser's "Noah's Ark" rule).
    attrs: &'a str,
    attr_count: usize,
    self_closing: bool,
    raw_text: bool,
    /// Just past the `>`.
    end: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// The value of the attribute `wanted` (lower case) in a tag's attribute text, read as the
/// tokenizer reads attributes; the first of duplicates counts.
fn attribute<'t>(attrs: &'t str, wanted: &str) -> Option<&'t str> {
    let bytes = attrs.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if is_space(bytes[i]) || bytes[i] == b'/' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < bytes.len() && !is_space(bytes[i]) && !matches!(bytes[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        let name = &attrs[start..i];
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        let mut value = "";
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            match bytes.get(i) {
                Some(&q @ (b'"' | b'\'')) => {
                    let end = memchr(q, &bytes[i + 1..]).map_or(bytes.len(), |p| i + 1 + p);
                    value = &attrs[i + 1..end];
                    i = end + 1;
                }
                _ => {
                    let start = i;
                    while i < bytes.len() && !is_space(bytes[i]) {
                        i += 1;
                    }
                    value = &attrs[start..i];
                }
            }
        }
        if name.eq_ignore_ascii_case(wanted) {
            return Some(value);
        }
    }
    None
}

/// Reads a tag whose name starts at `from`; `None` when the input ends inside it.
fn read_tag(html: &str, from: usize) -> Option<Tag<'_>> {
    let bytes = html.as_bytes();
    let mut i = from;
    while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'/' && bytes[i] != b'>' {
        i += 1;
    }
    let raw_name = &html[from..i];
    let name = if raw_name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(raw_name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(raw_name)
    };
    let attrs_start = i;
    let (mut attr_count, mut self_closing) = (0, false);
    loop {
        let b = *bytes.get(i)?;
        if is_space(b) {
            i += 1;
        } else if b == b'>' {
            break;
        } else if b == b'/' {
            i += 1;
            if bytes.get(i) == Some(&b'>') {
                self_closing = true;
                break;
            }
        } else {
            // An attribute name (a leading `=` belongs to it), then maybe `=` and a value.
            attr_count += 1;
            i += 1;
            while i < bytes.len() && !is_space(bytes[i]) && !matches!(bytes[i], b'/' | b'>' | b'=') {
                i += 1;
            }
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            if bytes.get(i) != Some(&b'=') {
                continue;
            }
            i += 1;
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            match *bytes.get(i)? {
                q @ (b'"' | b'\'') => i += 1 + memchr(q, &bytes[i + 1..])? + 1,
                b'>' => break,
                _ => {
                    while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'>' {
                        i += 1;
                    }
                }
            }
        }
    }
    let raw_text = matches!(
        &*name,
        "script" | "style" | "textarea" | "title" | "xmp" | "iframe" | "noembed" | "noframes" | "plaintext"
    );
    Some(Tag { attrs: html[attrs_start..i].trim(), name, attr_count, self_closing, raw_text, end: i + 1 })
}
