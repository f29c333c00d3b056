//! The model of html5ever's tree construction used by [`super::measure`]: its stack of
//! open elements and list of active formatting elements, changed by each token as the
//! parser would change them where that decides nesting, and simplified elsewhere only
//! towards more depth and more nodes. Every walk over the stack or the list is charged to
//! [`Shape::work`].

use std::borrow::Cow;

use super::tags;
use super::{Limits, Shape, Tag, is_space};

const SPECIAL: u8 = 1;
const FORMATTING: u8 = 2;
/// Bounds the default scope (and so the button and list-item scopes).
const SCOPE: u8 = 4;
/// A marker in the active formatting list is pushed with it (cells, captions, objects).
const MARKER: u8 = 8;
/// The element is SVG or MathML.
const FOREIGN: u8 = 16;
/// Its children are SVG or MathML.
const FOREIGN_CHILDREN: u8 = 32;

fn flags_of(name: &str) -> u8 {
    let mut f = 0;
    if tags::holds(tags::SPECIAL, name) {
        f |= SPECIAL;
    }
    if is_formatting(name) {
        f |= FORMATTING;
    }
    if matches!(
        name,
        "applet" | "caption" | "html" | "table" | "td" | "th" | "marquee" | "object" | "select" | "template"
    ) {
        f |= SCOPE;
    }
    if matches!(name, "td" | "th" | "caption" | "applet" | "marquee" | "object" | "template") {
        f |= MARKER;
    }
    f
}

fn is_formatting(name: &str) -> bool {
    matches!(
        name,
        "a" | "b" | "big" | "code" | "em" | "font" | "i" | "nobr" | "s" | "small" | "strike" | "strong" | "tt" | "u"
    )
}

fn is_void(name: &str) -> bool {
    tags::holds(tags::VOID, name)
}

fn closes_p(name: &str) -> bool {
    tags::holds(tags::CLOSES_P, name)
}

fn breaks_out_of_foreign(name: &str) -> bool {
    tags::holds(tags::BREAKS_OUT_OF_FOREIGN, name)
}

fn is_table_part(name: &str) -> bool {
    matches!(name, "table" | "tbody" | "thead" | "tfoot" | "tr" | "td" | "th" | "caption" | "template")
}

struct Open<'a> {
    name: Cow<'a, str>,
    flags: u8,
    id: usize,
    /// For a `<tr>`: cells opened in it.
    cells: usize,
    /// Nodes appended to it.
    children: usize,
}

struct Formatting<'a> {
    name: Cow<'a, str>,
    attrs: &'a str,
    attr_count: usize,
    /// The element on the stack, if it is still there.
    id: usize,
}

pub(super) struct Tree<'a, 'l> {
    limits: &'l Limits,
    pub(super) shape: Shape,
    stack: Vec<Open<'a>>,
    /// `None` is a marker.
    active: Vec<Option<Formatting<'a>>>,
    /// Whether the element with this id is on the stack.
    open: Vec<bool>,
    /// Nodes appended to the body.
    root_children: usize,
    /// Whether the last token was text (adjacent text makes one node).
    pub(super) after_text: bool,
}

impl<'a, 'l> Tree<'a, 'l> {
    pub(super) fn new(limits: &'l Limits) -> Self {
        Tree {
            limits,
            shape: Shape::default(),
            stack: Vec::new(),
            active: Vec::new(),
            open: Vec::new(),
            root_children: 0,
            after_text: false,
        }
    }

    pub(super) fn in_foreign(&self) -> bool {
        self.stack.last().is_some_and(|o| o.flags & FOREIGN_CHILDREN != 0)
    }

    /// Counts a node appended to the current node.
    fn append(&mut self) {
        self.shape.nodes += 1;
        match self.stack.last_mut() {
            Some(top) => top.children += 1,
            None => self.root_children += 1,
        }
    }

    /// Whether the current node is a table part that content cannot go in: the parser
    /// inserts such content before the table ("foster parenting").
    fn in_table_text(&self) -> bool {
        self.stack
            .last()
            .is_some_and(|o| o.flags & FOREIGN == 0 && matches!(&*o.name, "table" | "tbody" | "thead" | "tfoot" | "tr"))
    }

    /// Content inserted before the current table: the parser finds the table among its
    /// parent's children one by one, so this costs as many steps as the parent has children.
    fn foster(&mut self) {
        let Some(table) = self.stack.iter().rposition(|o| o.name == "table" && o.flags & FOREIGN == 0) else {
            return;
        };
        self.shape.work += self.stack.len() - table;
        let siblings = match table.checked_sub(1).and_then(|i| self.stack.get_mut(i)) {
            Some(parent) => &mut parent.children,
            None => &mut self.root_children,
        };
        *siblings += 1;
        self.shape.work += *siblings;
    }

    pub(super) fn comment(&mut self) {
        self.after_text = false;
        self.append();
    }

    /// Creates an element (counted) and pushes it unless it is void.
    fn create(&mut self, name: Cow<'a, str>, attr_count: usize, push: bool, foreign: bool) -> usize {
        self.after_text = false;
        self.append();
        self.shape.attributes += attr_count;
        self.shape.attributes_on_one = self.shape.attributes_on_one.max(attr_count);
        let id = self.open.len();
        self.open.push(false);
        if push {
            let mut flags = if foreign { FOREIGN } else { flags_of(&name) };
            let integration = matches!(
                &*name,
                "foreignobject" | "desc" | "title" | "mi" | "mo" | "mn" | "ms" | "mtext" | "annotation-xml"
            );
            if (foreign && !integration) || (!foreign && (name == "svg" || name == "math")) {
                flags |= FOREIGN_CHILDREN;
            }
            self.open[id] = true;
            self.stack.push(Open { name, flags, id, cells: 0, children: 0 });
            self.shape.depth = self.shape.depth.max(self.stack.len());
        }
        id
    }

    fn pop(&mut self) {
        if let Some(o) = self.stack.pop() {
            self.open[o.id] = false;
            self.shape.work += 1;
            if o.flags & MARKER != 0 {
                self.clear_to_marker();
            }
        }
    }

    fn clear_to_marker(&mut self) {
        while let Some(entry) = self.active.pop() {
            self.shape.work += 1;
            if entry.is_none() {
                break;
            }
        }
    }

    /// Index in the stack of the nearest open element `name`, looking no further than an
    /// element `stop` says bounds the search.
    fn find(&mut self, name: &str, stop: impl Fn(&Open) -> bool) -> Option<usize> {
        for (i, o) in self.stack.iter().enumerate().rev() {
            self.shape.work += 1;
            if o.name == name && o.flags & FOREIGN == 0 {
                return Some(i);
            }
            if stop(o) {
                return None;
            }
        }
        None
    }

    fn in_scope(&mut self, name: &str) -> Option<usize> {
        self.find(name, |o| o.flags & SCOPE != 0 || o.flags & FOREIGN != 0)
    }

    fn in_table_scope(&mut self, name: &str) -> Option<usize> {
        self.find(name, |o| matches!(&*o.name, "table" | "template") && o.flags & FOREIGN == 0)
    }

    fn pop_to(&mut self, index: usize) {
        while self.stack.len() > index {
            self.pop();
        }
    }

    pub(super) fn pop_named(&mut self, name: &str) {
        if self.stack.last().is_some_and(|o| o.name == name) {
            self.pop();
        }
    }

    fn close_p(&mut self) {
        if let Some(i) = self.find("p", |o| o.flags & SCOPE != 0 || o.name == "button") {
            self.pop_to(i);
        }
    }

    /// Reopens formatting elements closed implicitly, before text or an inline element.
    fn reconstruct(&mut self) {
        let Some(Some(last)) = self.active.last() else { return };
        // The parser looks for the entry in its stack from the top.
        self.shape.work += self.stack.len();
        if self.open[last.id] {
            return;
        }
        let mut first = self.active.len() - 1;
        while first > 0 {
            self.shape.work += self.stack.len() + 1;
            match &self.active[first - 1] {
                Some(f) if !self.open[f.id] => first -= 1,
                _ => break,
            }
        }
        for index in first..self.active.len() {
            let Some(f) = &self.active[index] else { continue };
            let (name, count) = (f.name.clone(), f.attr_count);
            let id = self.create(name, count, true, false);
            if let Some(Some(f)) = self.active.get_mut(index) {
                f.id = id;
            }
        }
    }

    pub(super) fn text(&mut self, text: &str) {
        if self.in_table_text() && !text.bytes().all(is_space) {
            self.foster();
        }
        self.reconstruct();
        if !self.after_text {
            self.append();
            self.shape.work += self.stack.len();
        }
        self.after_text = true;
    }

    pub(super) fn start(&mut self, tag: &Tag<'a>) {
        let name = &*tag.name;
        self.after_text = false;
        if self.in_table_text()
            && !is_table_part(name)
            && !matches!(name, "col" | "colgroup" | "script" | "style" | "input" | "form")
        {
            self.foster();
        }
        if self.in_foreign() {
            if breaks_out_of_foreign(name) {
                while self.in_foreign() {
                    self.pop();
                }
            } else {
                self.create(tag.name.clone(), tag.attr_count, !tag.self_closing, true);
                return;
            }
        }
        if closes_p(name) {
            self.close_p();
        }
        match name {
            "li" | "dd" | "dt" => self.close_list_item(name),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
                if self.stack.last().is_some_and(|o| matches!(&*o.name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")) =>
            {
                self.pop()
            }
            "a" | "nobr" => {
                let open_a = self.active.iter().rev().map_while(|f| f.as_ref()).any(|f| f.name == name);
                self.shape.work += self.active.len();
                if open_a {
                    self.adoption_agency(name);
                    self.remove_formatting(name);
                }
            }
            "button" | "select" => {
                if let Some(i) = self.in_scope(name) {
                    self.pop_to(i);
                }
            }
            "option" | "optgroup" => self.pop_named("option"),
            "td" | "th" | "tr" | "tbody" | "thead" | "tfoot" | "caption" | "col" | "colgroup" => {
                return self.table_part(tag);
            }
            "table" => {
                if self.stack.last().is_some_and(|o| matches!(&*o.name, "table" | "tbody" | "thead" | "tfoot" | "tr"))
                    && let Some(i) = self.in_table_scope("table")
                {
                    self.pop_to(i);
                }
            }
            "html" | "body" | "head" | "frameset" | "frame" => return,
            _ => {}
        }
        let void = is_void(name) || ((name == "svg" || name == "math") && tag.self_closing);
        if !closes_p(name) && name != "table" && name != "li" {
            self.reconstruct();
        }
        let name = if name == "image" { Cow::Borrowed("img") } else { tag.name.clone() };
        let formatting = is_formatting(&name);
        let id = self.create(name.clone(), tag.attr_count, !void, false);
        if formatting {
            self.push_formatting(name, tag, id);
        } else if flags_of(&name) & MARKER != 0 {
            self.active.push(None);
        }
    }

    fn close_list_item(&mut self, name: &str) {
        let closes: &[&str] = if name == "li" { &["li"] } else { &["dd", "dt"] };
        let mut found = None;
        for (i, o) in self.stack.iter().enumerate().rev() {
            self.shape.work += 1;
            if closes.contains(&&*o.name) {
                found = Some(i);
                break;
            }
            if o.flags & SPECIAL != 0 && !matches!(&*o.name, "address" | "div" | "p") {
                break;
            }
        }
        if let Some(i) = found {
            self.pop_to(i);
        }
    }

    fn push_formatting(&mut self, name: Cow<'a, str>, tag: &Tag<'a>, id: usize) {
        // The parser keeps at most three identical entries after the last marker.
        let mut same = 0;
        let mut first_same = None;
        for (i, entry) in self.active.iter().enumerate().rev() {
            self.shape.work += 1;
            let Some(f) = entry else { break };
            if f.name == name && f.attrs == tag.attrs {
                same += 1;
                first_same = Some(i);
            }
        }
        if same >= 3
            && let Some(i) = first_same
        {
            self.active.remove(i);
            self.shape.work += self.active.len();
        }
        self.active.push(Some(Formatting { name, attrs: tag.attrs, attr_count: tag.attr_count, id }));
    }

    /// Removes the last active formatting entry `name` (after the last marker), and its
    /// element from the stack.
    fn remove_formatting(&mut self, name: &str) {
        let after_marker = self.active.iter().rev().take_while(|f| f.is_some()).count();
        let start = self.active.len() - after_marker;
        let Some(index) = self.active[start..].iter().rposition(|f| f.as_ref().is_some_and(|f| f.name == name)) else {
            return;
        };
        let index = start + index;
        self.shape.work += self.active.len();
        if let Some(Some(f)) = self.active.get(index)
            && self.open[f.id]
        {
            let id = f.id;
            self.remove_from_stack(id);
        }
        self.active.remove(index);
    }

    fn remove_from_stack(&mut self, id: usize) {
        if let Some(i) = self.stack.iter().rposition(|o| o.id == id) {
            self.stack.remove(i);
            self.open[id] = false;
        }
        self.shape.work += self.stack.len();
    }

    /// Table parts: implied `<tbody>` and `<tr>` are created, an open cell or row is closed;
    /// outside a table they are ignored, as the parser does.
    fn table_part(&mut self, tag: &Tag<'a>) {
        let name = &*tag.name;
        let mut context = None;
        for (i, o) in self.stack.iter().enumerate().rev() {
            self.shape.work += 1;
            if o.flags & FOREIGN == 0 && is_table_part(&o.name) {
                context = Some((i, o.name.clone()));
                break;
            }
        }
        let Some((mut at, mut part)) = context else { return };
        if part == "template" {
            let cell = matches!(name, "td" | "th");
            let push = !matches!(name, "col");
            self.create(tag.name.clone(), tag.attr_count, push, false);
            if cell {
                self.add_cell(at);
                self.active.push(None);
            }
            return;
        }
        // Close an open cell or caption, then a row or section as the new part needs.
        if matches!(&*part, "td" | "th" | "caption") {
            self.pop_to(at);
            let Some((i, p)) = self.nearest_table_context() else { return };
            (at, part) = (i, p);
        }
        if part == "tr" && !matches!(name, "td" | "th") {
            self.pop_to(at);
            let Some((i, p)) = self.nearest_table_context() else { return };
            (at, part) = (i, p);
        }
        if matches!(&*part, "tbody" | "thead" | "tfoot")
            && matches!(name, "tbody" | "thead" | "tfoot" | "caption" | "col" | "colgroup")
        {
            self.pop_to(at);
            let Some((i, p)) = self.nearest_table_context() else { return };
            (at, part) = (i, p);
        }
        self.pop_to(at + 1);
        match name {
            "caption" => {
                self.create(tag.name.clone(), tag.attr_count, true, false);
                self.active.push(None);
            }
            "col" | "colgroup" => {
                self.create(tag.name.clone(), tag.attr_count, false, false);
            }
            "tbody" | "thead" | "tfoot" => {
                self.create(tag.name.clone(), tag.attr_count, true, false);
            }
            "tr" => {
                if part == "table" {
                    self.create(Cow::Borrowed("tbody"), 0, true, false);
                }
                self.create(tag.name.clone(), tag.attr_count, true, false);
            }
            _ => {
                if part == "table" {
                    self.create(Cow::Borrowed("tbody"), 0, true, false);
                }
                if part != "tr" {
                    self.create(Cow::Borrowed("tr"), 0, true, false);
                }
                let row = self.stack.len() - 1;
                self.create(tag.name.clone(), tag.attr_count, true, false);
                self.add_cell(row);
                self.active.push(None);
            }
        }
    }

    fn nearest_table_context(&mut self) -> Option<(usize, Cow<'a, str>)> {
        for (i, o) in self.stack.iter().enumerate().rev() {
            self.shape.work += 1;
            if o.flags & FOREIGN == 0 && matches!(&*o.name, "table" | "tbody" | "thead" | "tfoot" | "tr" | "template") {
                return Some((i, o.name.clone()));
            }
        }
        None
    }

    fn add_cell(&mut self, row: usize) {
        self.shape.cells += 1;
        if let Some(o) = self.stack.get_mut(row) {
            o.cells += 1;
            self.shape.cells_in_one_row = self.shape.cells_in_one_row.max(o.cells);
        }
    }

    pub(super) fn end(&mut self, name: &str) {
        self.after_text = false;
        if self.in_foreign() {
            // The nearest foreign element of that name closes; at an HTML element the tag
            // is read by the HTML rules.
            let mut found = None;
            for (i, o) in self.stack.iter().enumerate().rev() {
                self.shape.work += 1;
                if o.flags & FOREIGN == 0 {
                    break;
                }
                if o.name.eq_ignore_ascii_case(name) {
                    found = Some(i);
                    break;
                }
            }
            if let Some(i) = found {
                return self.pop_to(i);
            }
            if name == "p" || name == "br" {
                while self.in_foreign() {
                    self.pop();
                }
            }
        }
        match name {
            "p" => match self.find("p", |o| o.flags & SCOPE != 0 || o.name == "button") {
                Some(i) => self.pop_to(i),
                None => {
                    self.create(Cow::Borrowed("p"), 0, false, false);
                }
            },
            "br" => {
                self.reconstruct();
                self.create(Cow::Borrowed("br"), 0, false, false);
            }
            "li" => {
                if let Some(i) = self.find("li", |o| o.flags & SCOPE != 0 || matches!(&*o.name, "ol" | "ul")) {
                    self.pop_to(i);
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let mut found = None;
                for (i, o) in self.stack.iter().enumerate().rev() {
                    self.shape.work += 1;
                    if matches!(&*o.name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
                        found = Some(i);
                        break;
                    }
                    if o.flags & SCOPE != 0 {
                        break;
                    }
                }
                if let Some(i) = found {
                    self.pop_to(i);
                }
            }
            "form" => {
                if let Some(i) = self.in_scope("form") {
                    let id = self.stack[i].id;
                    self.remove_from_stack(id);
                }
            }
            "body" | "html" => {}
            "table" | "tbody" | "thead" | "tfoot" | "tr" | "td" | "th" | "caption" => {
                if let Some(i) = self.in_table_scope(name) {
                    self.pop_to(i);
                }
            }
            _ if is_formatting(name) => self.adoption_agency(name),
            _ if tags::holds(tags::SCOPED_END, name) => {
                if let Some(i) = self.in_scope(name) {
                    self.pop_to(i);
                }
            }
            _ => self.any_other_end(name),
        }
    }

    /// An end tag without rules of its own: closes the nearest open element of that name,
    /// unless a special element (a `<div>`, a `<blockquote>`…) is open above it.
    fn any_other_end(&mut self, name: &str) {
        if let Some(i) = self.find(name, |o| o.flags & SPECIAL != 0) {
            self.pop_to(i);
        }
    }

    /// The parser's adoption agency algorithm for a formatting end tag, as far as it
    /// changes the stack: at most eight rounds, each moving the formatting element below
    /// the nearest special element above it (so the depth stays) with a new clone.
    fn adoption_agency(&mut self, name: &str) {
        for _ in 0..8 {
            self.shape.work += self.active.len();
            let entry = self
                .active
                .iter()
                .rev()
                .map_while(|f| f.as_ref())
                .position(|f| f.name == name)
                .map(|p| self.active.len() - 1 - p);
            let Some(index) = entry else {
                return self.any_other_end(name);
            };
            let Some(Some(fe)) = self.active.get(index) else { return };
            let id = fe.id;
            if !self.open[id] {
                self.active.remove(index);
                return;
            }
            let Some(at) = self.stack.iter().rposition(|o| o.id == id) else { return };
            self.shape.work += self.stack.len() - at;
            if self.stack[at + 1..].iter().any(|o| o.flags & SCOPE != 0) {
                return; // not in scope: ignored
            }
            let Some(block) = self.stack[at + 1..].iter().position(|o| o.flags & SPECIAL != 0).map(|p| at + 1 + p)
            else {
                self.pop_to(at);
                self.active.remove(index);
                return;
            };
            // Formatting elements between it and the block are cloned (three at most).
            let between = self.stack[at + 1..block].iter().filter(|o| o.flags & FORMATTING != 0).count();
            self.shape.nodes += between.min(3);
            let fe_name = self.stack[at].name.clone();
            let attrs = self.active.get(index).and_then(|f| f.as_ref()).map_or(0, |f| f.attr_count);
            self.stack.remove(at);
            self.open[id] = false;
            let clone = self.open.len();
            self.open.push(true);
            self.shape.nodes += 1;
            self.shape.attributes += attrs;
            self.stack.insert(block, Open { name: fe_name, flags: FORMATTING, id: clone, cells: 0, children: 0 });
            self.shape.work += self.stack.len();
            if let Some(Some(f)) = self.active.get_mut(index) {
                f.id = clone;
            }
            if self.shape.exceeds(self.limits) {
                return;
            }
        }
    }
}
