//! The model of html5ever's tree construction used by [`super::measure`]: its stack of
//! open elements and list of active formatting elements, changed by each token as the
//! parser would change them where that decides nesting, and simplified elsewhere only
//! towards more depth and more nodes. Every walk over the stack or the list is charged to
//! [`Shape::work`].

use std::borrow::Cow;

use super::tags;
use super::{Limits, Shape, Tag, attribute, is_space};

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
/// With `FOREIGN`: the element is MathML (else SVG).
const MATHML: u8 = 64;

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
    /// Its depth in the tree built, which can exceed its place in the stack: an element
    /// taken out of the middle of the stack (`</form>`) stays in the tree.
    level: usize,
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
    /// The parser's form element pointer: while set, another `<form>` is ignored.
    form: Option<usize>,
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
            form: None,
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

    /// The flags of a new element `name` inserted as a child of the current node: its
    /// namespace follows the parser's (SVG and MathML are entered by `<svg>` and `<math>`
    /// and left at their integration points, which hold HTML).
    fn flags_for(&self, name: &str, attrs: &str, foreign: bool) -> u8 {
        let parent = self.stack.last();
        let (svg, math) = if foreign {
            let in_math = parent.is_some_and(|p| p.flags & MATHML != 0);
            let svg_in_annotation = in_math && name == "svg" && parent.is_some_and(|p| p.name == "annotation-xml");
            (!in_math || svg_in_annotation, in_math && !svg_in_annotation)
        } else {
            (name == "svg", name == "math")
        };
        if !svg && !math {
            return flags_of(name);
        }
        let integration = if math {
            matches!(name, "mi" | "mo" | "mn" | "ms" | "mtext")
                || (name == "annotation-xml"
                    && attribute(attrs, "encoding").is_some_and(|e| {
                        e.eq_ignore_ascii_case("text/html") || e.eq_ignore_ascii_case("application/xhtml+xml")
                    }))
        } else {
            matches!(name, "foreignobject" | "desc" | "title")
        };
        let mut flags = FOREIGN;
        if math {
            flags |= MATHML;
        }
        if !integration {
            flags |= FOREIGN_CHILDREN;
        } else if name != "annotation-xml" {
            flags |= SCOPE;
        }
        flags
    }

    /// Creates an element (counted) and pushes it unless it is void.
    fn create(&mut self, name: Cow<'a, str>, attr_count: usize, push: bool, foreign: bool) -> usize {
        self.create_with(name, "", attr_count, push, foreign)
    }

    fn create_with(&mut self, name: Cow<'a, str>, attrs: &str, attr_count: usize, push: bool, foreign: bool) -> usize {
        let flags = self.flags_for(&name, attrs, foreign);
        if matches!(&*name, "template" | "frameset") && flags & FOREIGN == 0 {
            self.shape.unfollowed += 1;
        }
        self.after_text = false;
        self.append();
        self.shape.attributes += attr_count;
        self.shape.attributes_on_one = self.shape.attributes_on_one.max(attr_count);
        let id = self.open.len();
        self.open.push(false);
        if !push {
            self.charge_line();
        }
        if push {
            self.open[id] = true;
            let level = self.stack.last().map_or(1, |o| o.level + 1);
            self.stack.push(Open { name, flags, id, cells: 0, children: 0, level });
            self.shape.depth = self.shape.depth.max(level);
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

    /// Index in the stack of the nearest open HTML element `name`, looking no further than
    /// an element `stop` says bounds the search (SVG and MathML elements are passed over,
    /// but their HTML integration points bound scopes).
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
        self.find(name, |o| o.flags & SCOPE != 0)
    }

    fn in_table_scope(&mut self, name: &str) -> Option<usize> {
        self.find(name, |o| o.flags & FOREIGN == 0 && matches!(&*o.name, "table" | "template"))
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
        if let Some(i) = self.find("p", |o| o.flags & SCOPE != 0 || (o.flags & FOREIGN == 0 && o.name == "button")) {
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
            self.charge_line();
        }
        self.after_text = true;
    }

    /// A line of text, or an element that may make one (`<br>`, `<img>`), at the current
    /// depth: the conversion to text copies each line once per enclosing block, and each
    /// copy is longer by that block's indentation or quote mark, so a line costs about the
    /// square of its depth.
    fn charge_line(&mut self) {
        let depth = self.stack.last().map_or(0, |o| o.level);
        self.shape.work += depth + depth * depth / 64;
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
            let font_breaks = ["color", "face", "size"].iter().any(|a| attribute(tag.attrs, a).is_some());
            if breaks_out_of_foreign(name) && (name != "font" || font_breaks) {
                while self.in_foreign() {
                    self.pop();
                }
            } else {
                self.create_with(tag.name.clone(), tag.attrs, tag.attr_count, !tag.self_closing, true);
                return;
            }
        }
        if name == "form" && self.form.is_some() {
            return; // a form in a form is dropped
        }
        // The parser closes an open list item before it closes a paragraph.
        if matches!(name, "li" | "dd" | "dt") {
            self.close_list_item(name);
        }
        if closes_p(name) {
            self.close_p();
        }
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
                if self.stack.last().is_some_and(|o| matches!(&*o.name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")) =>
            {
                self.pop()
            }
            "a" => {
                // A link inside a link: the open one is closed (adoption agency), then that
                // element (not a clone the agency made) leaves the list and the stack.
                self.shape.work += self.active.len();
                let open = self.active.iter().rev().map_while(|f| f.as_ref()).find(|f| f.name == "a").map(|f| f.id);
                if let Some(id) = open {
                    self.adoption_agency(name);
                    if let Some(index) = self.active.iter().rposition(|f| f.as_ref().is_some_and(|f| f.id == id)) {
                        self.active.remove(index);
                    }
                    if self.open[id] {
                        self.remove_from_stack(id);
                    }
                }
            }
            "nobr" => {
                self.reconstruct();
                if self.in_scope("nobr").is_some() {
                    self.adoption_agency(name);
                }
            }
            "button" => {
                if let Some(i) = self.in_scope(name) {
                    self.pop_to(i);
                }
            }
            "select" => {
                // A <select> in a select closes it and is dropped.
                if let Some(i) = self.in_scope(name) {
                    return self.pop_to(i);
                }
            }
            "option" | "optgroup" => {
                if self.in_scope("select").is_some() {
                    self.close_implied(if name == "option" { "optgroup" } else { "" });
                } else {
                    self.pop_named("option");
                }
            }
            "rb" | "rtc" | "rp" | "rt" if self.in_scope("ruby").is_some() => {
                self.close_implied(if matches!(name, "rp" | "rt") { "rtc" } else { "" });
            }
            "input" => {
                if let Some(i) = self.in_scope("select") {
                    self.pop_to(i);
                }
            }
            "td" | "th" | "tr" | "tbody" | "thead" | "tfoot" | "caption" | "col" | "colgroup" => {
                return self.table_part(tag);
            }
            "table" => {
                // In a table but not in a cell (content misplaced there included), a new
                // table closes the open one.
                let mode = self.stack.iter().rev().filter(|o| o.flags & FOREIGN == 0).find(|o| is_table_part(&o.name));
                self.shape.work += self.stack.len();
                if mode.is_some_and(|o| matches!(&*o.name, "table" | "tbody" | "thead" | "tfoot" | "tr"))
                    && let Some(i) = self.in_table_scope("table")
                {
                    self.pop_to(i);
                }
            }
            "html" | "body" | "head" | "frame" => return,
            _ => {}
        }
        let void = is_void(name) || ((name == "svg" || name == "math") && tag.self_closing);
        if name == "xmp" || !(closes_p(name) || tags::holds(tags::NO_RECONSTRUCT, name)) {
            self.reconstruct();
        }
        let name = if name == "image" { Cow::Borrowed("img") } else { tag.name.clone() };
        let formatting = is_formatting(&name);
        let id = self.create(name.clone(), tag.attr_count, !void, false);
        if name == "form" {
            self.form = Some(id);
        }
        if formatting {
            self.push_formatting(name, tag, id);
        } else if flags_of(&name) & MARKER != 0 {
            self.active.push(None);
        }
    }

    /// Pops the elements whose end tag may be implied (`<p>`, `<li>`, `<option>`…) from the
    /// top, but not `except`.
    fn close_implied(&mut self, except: &str) {
        while self.stack.last().is_some_and(|o| {
            o.flags & FOREIGN == 0
                && o.name != except
                && matches!(&*o.name, "dd" | "dt" | "li" | "option" | "optgroup" | "p" | "rb" | "rp" | "rt" | "rtc")
        }) {
            self.pop();
        }
    }

    fn close_list_item(&mut self, name: &str) {
        let closes: &[&str] = if name == "li" { &["li"] } else { &["dd", "dt"] };
        let mut found = None;
        for (i, o) in self.stack.iter().enumerate().rev() {
            self.shape.work += 1;
            if closes.contains(&&*o.name) && o.flags & FOREIGN == 0 {
                found = Some(i);
                break;
            }
            if o.flags & SPECIAL != 0 && o.flags & FOREIGN == 0 && !matches!(&*o.name, "address" | "div" | "p") {
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
        let mut in_template = false;
        for (i, o) in self.stack.iter().enumerate().rev() {
            self.shape.work += 1;
            if o.flags & FOREIGN != 0 {
                continue;
            }
            if context.is_none() && is_table_part(&o.name) {
                context = Some((i, o.name.clone()));
            }
            if o.name == "template" {
                in_template = true;
            }
            if matches!(&*o.name, "table" | "template") {
                break;
            }
        }
        let Some((mut at, mut part)) = context else { return };
        if in_template {
            // Template contents follow rules of their own; these parts are pushed without
            // closing anything, with the <tbody> and <tr> the parser may imply (more depth
            // than the parser, never less).
            let cell = matches!(name, "td" | "th");
            if cell || name == "tr" {
                self.create(Cow::Borrowed("tbody"), 0, true, false);
            }
            if cell {
                self.create(Cow::Borrowed("tr"), 0, true, false);
            }
            let push = !matches!(name, "col");
            self.create(tag.name.clone(), tag.attr_count, push, false);
            if cell {
                self.add_cell(self.stack.len().saturating_sub(2));
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
            "p" => match self.find("p", |o| o.flags & SCOPE != 0 || (o.flags & FOREIGN == 0 && o.name == "button")) {
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
                if let Some(i) = self
                    .find("li", |o| o.flags & SCOPE != 0 || (o.flags & FOREIGN == 0 && matches!(&*o.name, "ol" | "ul")))
                {
                    self.pop_to(i);
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let mut found = None;
                for (i, o) in self.stack.iter().enumerate().rev() {
                    self.shape.work += 1;
                    if matches!(&*o.name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6") && o.flags & FOREIGN == 0 {
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
                // The form the parser points at is taken out of the stack if it is in scope;
                // the pointer is cleared either way.
                let Some(form) = self.form.take() else { return };
                let mut in_scope = false;
                for o in self.stack.iter().rev() {
                    self.shape.work += 1;
                    if o.id == form {
                        in_scope = true;
                        break;
                    }
                    if o.flags & SCOPE != 0 {
                        break;
                    }
                }
                if in_scope {
                    self.remove_from_stack(form);
                }
            }
            "body" | "html" => {}
            "template" => {
                // Closes the nearest template whatever is open in it.
                self.shape.work += self.stack.len();
                if let Some(i) = self.stack.iter().rposition(|o| o.name == "template" && o.flags & FOREIGN == 0) {
                    self.pop_to(i);
                }
            }
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
            // The clone takes the block's children: what is open above it goes one deeper.
            let level = self.stack[block - 1].level + 1;
            self.stack
                .insert(block, Open { name: fe_name, flags: FORMATTING, id: clone, cells: 0, children: 0, level });
            for o in &mut self.stack[block + 1..] {
                o.level += 1;
                self.shape.depth = self.shape.depth.max(o.level);
            }
            self.shape.depth = self.shape.depth.max(level);
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
