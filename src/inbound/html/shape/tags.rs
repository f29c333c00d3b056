//! The tag-name sets of the HTML tree-construction rules that decide nesting (WHATWG HTML,
//! "tree construction", as html5ever implements them), sorted for binary search.

/// Whether the sorted `set` holds `name`.
pub fn holds(set: &[&str], name: &str) -> bool {
    set.binary_search(&name).is_ok()
}

/// The "special" elements: an end tag without rules of its own stops at them.
#[rustfmt::skip]
pub const SPECIAL: &[&str] = &[
    "address", "applet", "area", "article", "aside", "base", "basefont", "bgsound", "blockquote",
    "body", "br", "button", "caption", "center", "col", "colgroup", "dd", "details", "dir", "div",
    "dl", "dt", "embed", "fieldset", "figcaption", "figure", "footer", "form", "frame", "frameset",
    "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "iframe", "img",
    "input", "isindex", "li", "link", "listing", "main", "marquee", "menu", "meta", "nav",
    "noembed", "noframes", "noscript", "object", "ol", "p", "param", "plaintext", "pre", "script",
    "section", "select", "source", "style", "summary", "table", "tbody", "td", "template",
    "textarea", "tfoot", "th", "thead", "title", "tr", "track", "ul", "wbr", "xmp",
];

/// Elements that never have content, so never nest.
#[rustfmt::skip]
pub const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Start tags that close an open `<p>` first.
#[rustfmt::skip]
pub const CLOSES_P: &[&str] = &[
    "address", "article", "aside", "blockquote", "center", "dd", "details", "dialog", "dir", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hgroup", "hr", "li", "listing", "main", "menu", "nav", "ol", "p", "plaintext",
    "pre", "search", "section", "summary", "ul", "xmp",
];

/// HTML start tags that end SVG or MathML content.
#[rustfmt::skip]
pub const BREAKS_OUT_OF_FOREIGN: &[&str] = &[
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em",
    "embed", "font", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing",
    "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span", "strike", "strong",
    "sub", "sup", "table", "tt", "u", "ul", "var",
];

/// End tags that close the nearest element of their name in scope, whatever is open above it.
#[rustfmt::skip]
pub const SCOPED_END: &[&str] = &[
    "address", "applet", "article", "aside", "blockquote", "button", "center", "dd", "details",
    "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "header",
    "hgroup", "listing", "main", "marquee", "menu", "nav", "object", "ol", "pre", "search",
    "section", "select", "summary", "template", "ul",
];

/// Start tags (besides those that close a `<p>`) before which the parser does not reopen
/// formatting elements.
#[rustfmt::skip]
pub const NO_RECONSTRUCT: &[&str] = &[
    "base", "basefont", "bgsound", "body", "caption", "col", "colgroup", "frame", "frameset", "head",
    "html", "iframe", "link", "meta", "noembed", "noframes", "param", "rb", "rp", "rt", "rtc", "script",
    "source", "style", "table", "tbody", "td", "template", "textarea", "tfoot", "th", "thead", "title",
    "tr", "track",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_sorted_for_binary_search() {
        for set in [SPECIAL, VOID, CLOSES_P, BREAKS_OUT_OF_FOREIGN, SCOPED_END, NO_RECONSTRUCT] {
            assert!(set.windows(2).all(|w| w[0] < w[1]), "{set:?}");
        }
        assert!(holds(SPECIAL, "div") && !holds(SPECIAL, "span"));
    }
}
