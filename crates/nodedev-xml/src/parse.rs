//! The parser: quick-xml events into a small element tree (with limits, and with
//! no DTD and no entity other than XML's five and character references), then the
//! tree into the model, checking what libvirt's nodedev.rng checks.

use std::borrow::Cow;
use std::collections::HashSet;

use pci_types::vpd::{VpdCustomField, VpdReadOnly, VpdReadWrite, VpdResource};
use pci_types::{LinkSpeed, PciAddress, PciExpressLink};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::model::*;
use crate::XmlError;

/// Largest document accepted.
pub const MAX_INPUT: usize = 16 * 1024 * 1024;
/// Deepest nesting accepted in a node-device document (they are 6 deep).
pub const MAX_DEPTH: usize = 32;
/// Most attributes accepted on one element of a node-device document, and on
/// the elements the domain reader keeps (`<hostdev>`, `<driver>`, `<source>`,
/// `<address>`): libvirt's node-device elements have at most 4 and its domain
/// elements a few dozen. Foreign elements in a domain's `<metadata>` are not
/// limited: they are checked in linear time and dropped.
pub const MAX_ATTRIBUTES: usize = 256;
/// Deepest nesting the domain reader accepts: libxml2, which libvirt parses
/// domain XML with, refuses documents deeper than 256 levels (2048 with
/// `XML_PARSE_HUGE`), so no domain libvirt hands a hook is deeper than this.
pub(crate) const DOMAIN_MAX_DEPTH: usize = 2048;

/// An element of the tree.
#[derive(Debug)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    pub(crate) text: String,
}

fn syntax(reader: &Reader<&[u8]>, msg: impl std::fmt::Display) -> XmlError {
    XmlError::Syntax(format!(
        "at byte {}: {}",
        reader.buffer_position(),
        clip(&msg.to_string())
    ))
}

/// A message from quick-xml cut to 300 characters: it quotes names whole (an
/// end tag that does not match, say), and a name can be megabytes long.
fn clip(msg: &str) -> String {
    const LIMIT: usize = 300;
    let mut out = String::new();
    for c in msg.chars().take(LIMIT) {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    if msg.chars().nth(LIMIT).is_some() {
        out.push('…');
    }
    out
}

/// Most elements kept in a tree (node-device documents have a few hundred at
/// most; the domain reader keeps only a handful per PCI hostdev).
const MAX_ELEMENTS: usize = 100_000;

/// What [`build_tree`] keeps of an element. Whatever it does not keep is still
/// read and checked (well-formedness, characters, references, duplicate
/// attributes) in time linear in its size, then dropped.
#[derive(Clone, Copy)]
pub(crate) enum Keep {
    /// The element, its text and all its attributes (at most [`MAX_ATTRIBUTES`]).
    All,
    /// The element and its text, with only the attributes `(name, value)` the
    /// function accepts; any number of others is checked and dropped.
    Some(fn(&str, &str) -> bool),
    /// As [`Keep::Some`], but only if the function accepts at least one
    /// attribute; otherwise as [`Keep::Skip`].
    IfAny(fn(&str, &str) -> bool),
    /// Nothing of the element or of anything inside it.
    Skip,
}

/// How a document is read into a tree.
pub(crate) struct TreeRules {
    /// Deepest nesting accepted (kept or not).
    pub(crate) max_depth: usize,
    /// What to keep of an element, given the kept elements it is in (outermost
    /// first) and its name. Not asked inside an element that is skipped.
    pub(crate) keep: fn(&[Element], &str) -> Keep,
}

/// A node-device document: everything is kept.
const NODE_DEVICE: TreeRules = TreeRules {
    max_depth: MAX_DEPTH,
    keep: |_, _| Keep::All,
};

/// Duplicate attribute names, found in linear time (quick-xml's own check
/// compares each name with every earlier one, which made 200,000 attributes take
/// half a minute; it is switched off).
struct SeenNames<'a> {
    few: Vec<&'a [u8]>,
    many: Option<HashSet<&'a [u8]>>,
}

impl<'a> SeenNames<'a> {
    /// Up to this many names are compared one by one (no allocation of a set
    /// for the usual handful).
    const FEW: usize = 8;

    fn new() -> Self {
        SeenNames {
            few: Vec::new(),
            many: None,
        }
    }

    /// Records `name`; false if it was seen before.
    fn insert(&mut self, name: &'a [u8]) -> bool {
        if let Some(set) = &mut self.many {
            return set.insert(name);
        }
        if self.few.contains(&name) {
            return false;
        }
        self.few.push(name);
        if self.few.len() > Self::FEW {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

/// Trims XML's white space (space, tab, CR, LF) only, not Unicode's.
pub(crate) fn xml_trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// XML 1.0 `Char`: what a document (and a character reference) may contain.
pub(crate) fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Fails on the first character XML 1.0 does not allow.
fn check_chars(what: &str, s: &str) -> Result<(), XmlError> {
    match s.char_indices().find(|(_, c)| !xml_char(*c)) {
        Some((at, c)) => Err(XmlError::Syntax(format!(
            "{what}: character U+{:04X} at byte {at} is not allowed in XML (XML 1.0 allows no control character but tab, line feed and carriage return, and not U+FFFE or U+FFFF)",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// A reference `&…;` resolved: the five predefined entities and character
/// references only. Nothing else is ever expanded.
fn resolve_reference(name: &str) -> Result<Cow<'static, str>, XmlError> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix('x') {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()
            }
            None if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => num.parse().ok(),
            _ => None,
        };
        return match code.and_then(char::from_u32) {
            Some(c) if xml_char(c) => Ok(Cow::Owned(c.to_string())),
            _ => Err(XmlError::Syntax(format!(
                "character reference '&{};' is not a character XML allows",
                shorten(name)
            ))),
        };
    }
    match quick_xml::escape::resolve_predefined_entity(name) {
        Some(v) => Ok(Cow::Borrowed(v)),
        None => Err(XmlError::Entity(shorten(name))),
    }
}

/// An attribute value as an XML 1.0 processor reports it (section 3.3.3):
/// references resolved, and each literal tab or newline (line ends are already
/// normalized) replaced by a space. `<` is not allowed.
fn attribute_value(raw: &str) -> Result<String, XmlError> {
    let bad = |msg: &str| XmlError::Syntax(msg.to_string());
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '<', '\t', '\n']) {
        out.push_str(&rest[..i]);
        match rest.as_bytes()[i] {
            b'<' => return Err(bad("'<' is not allowed in an attribute value")),
            b'&' => {
                let end = rest[i..]
                    .find(';')
                    .ok_or_else(|| bad("'&' that starts no reference"))?;
                out.push_str(&resolve_reference(&rest[i + 1..i + end])?);
                rest = &rest[i + end + 1..];
                continue;
            }
            _ => out.push(' '),
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads a node-device document into a tree, keeping everything.
pub(crate) fn build_tree(xml: &str) -> Result<Element, XmlError> {
    build_tree_with(xml, &NODE_DEVICE)
}

/// Reads a document into a tree, keeping what `rules` asks for. Linear in the
/// size of the input, whatever it holds.
pub(crate) fn build_tree_with(xml: &str, rules: &TreeRules) -> Result<Element, XmlError> {
    if xml.len() > MAX_INPUT {
        return Err(XmlError::TooLarge { limit: MAX_INPUT });
    }
    check_chars("document", xml)?;
    // XML 1.0 section 2.11: "\r\n" and a lone "\r" are read as "\n".
    let normalized: Cow<str> = if xml.contains('\r') {
        Cow::Owned(xml.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(xml)
    };
    let mut reader = Reader::from_reader(normalized.as_bytes());
    reader.config_mut().check_end_names = true;
    // The kept elements open around the current position, outermost first.
    let mut stack: Vec<Element> = Vec::new();
    // How many elements are open inside the innermost kept one, not kept.
    let mut skipped = 0usize;
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    let mut first = true;
    loop {
        let event = reader.read_event().map_err(|e| syntax(&reader, e))?;
        let at_start = std::mem::replace(&mut first, false);
        match event {
            Event::Decl(_) if at_start => {}
            Event::Decl(_) => {
                return Err(syntax(
                    &reader,
                    "an XML declaration is allowed only at the very start",
                ))
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                return Err(XmlError::Syntax(format!(
                    "content after the root element: <{}>",
                    shorten(&String::from_utf8_lossy(e.name().as_ref()))
                )))
            }
            Event::Start(e) | Event::Empty(e) if stack.len() + skipped >= rules.max_depth => {
                return Err(XmlError::Syntax(format!(
                    "elements nested deeper than {} at <{}>",
                    rules.max_depth,
                    shorten(&String::from_utf8_lossy(e.name().as_ref()))
                )))
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = std::str::from_utf8(e.name().into_inner())
                    .map_err(|err| syntax(&reader, err))?;
                let mut keep = if skipped > 0 {
                    Keep::Skip
                } else {
                    (rules.keep)(&stack, name)
                };
                let attrs = read_attributes(&reader, e, name, keep)?;
                if matches!(keep, Keep::IfAny(_)) && attrs.is_empty() {
                    keep = Keep::Skip;
                }
                if matches!(keep, Keep::Skip) {
                    if !empty {
                        skipped += 1;
                    }
                    continue;
                }
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(syntax(
                        &reader,
                        format!("more than {MAX_ELEMENTS} elements"),
                    ));
                }
                let el = Element {
                    name: name.to_string(),
                    attrs,
                    children: Vec::new(),
                    text: String::new(),
                };
                if empty {
                    close(&mut stack, &mut root, el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) if skipped > 0 => skipped -= 1,
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| syntax(&reader, "unexpected end tag"))?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                if memchr_seq(&t, b"]]>") {
                    return Err(syntax(&reader, "']]>' is not allowed in text"));
                }
                let text = t.xml10_content().map_err(|e| syntax(&reader, e))?;
                push_text(&reader, &mut stack, skipped, &text)?;
            }
            Event::CData(t) => {
                let text = std::str::from_utf8(&t).map_err(|e| syntax(&reader, e))?;
                push_text(&reader, &mut stack, skipped, text)?;
            }
            Event::GeneralRef(r) => {
                let name = std::str::from_utf8(&r).map_err(|e| syntax(&reader, e))?;
                let resolved = resolve_reference(name)?;
                push_text(&reader, &mut stack, skipped, &resolved)?;
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() || skipped > 0 {
        return Err(XmlError::Syntax(format!(
            "document ends inside <{}>",
            stack.last().map_or(String::new(), |e| shorten(&e.name))
        )));
    }
    root.ok_or_else(|| XmlError::Syntax("no root element".to_string()))
}

/// Whether `needle` occurs in `haystack` (linear: `needle` is short).
fn memchr_seq(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Reads, checks and decodes every attribute of a start tag, and returns the
/// ones `keep` keeps. Linear in the size of the tag.
fn read_attributes(
    reader: &Reader<&[u8]>,
    e: &BytesStart<'_>,
    name: &str,
    keep: Keep,
) -> Result<Vec<(String, String)>, XmlError> {
    let mut attrs = Vec::new();
    let mut seen = SeenNames::new();
    let mut count = 0usize;
    // quick-xml's duplicate check is quadratic: ours (`seen`) is not.
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| syntax(reader, format!("<{}>: {err}", shorten(name))))?;
        count += 1;
        if matches!(keep, Keep::All) && count > MAX_ATTRIBUTES {
            return Err(syntax(
                reader,
                format!(
                    "<{}> has more than {MAX_ATTRIBUTES} attributes (libvirt's elements have a few)",
                    shorten(name)
                ),
            ));
        }
        let key = std::str::from_utf8(a.key.into_inner()).map_err(|err| syntax(reader, err))?;
        if !seen.insert(a.key.into_inner()) {
            return Err(syntax(
                reader,
                format!(
                    "<{}>: duplicated attribute '{}'",
                    shorten(name),
                    shorten(key)
                ),
            ));
        }
        let raw = std::str::from_utf8(&a.value).map_err(|err| syntax(reader, err))?;
        let value = attribute_value(raw).map_err(|err| match err {
            XmlError::Syntax(msg) => syntax(
                reader,
                format!("<{} {}>: {msg}", shorten(name), shorten(key)),
            ),
            other => other,
        })?;
        let kept = match keep {
            Keep::All => true,
            Keep::Some(f) | Keep::IfAny(f) => f(key, &value),
            Keep::Skip => false,
        };
        if kept {
            attrs.push((key.to_string(), value));
        }
    }
    Ok(attrs)
}

/// Text goes to the innermost open element, unless that one is skipped.
fn push_text(
    reader: &Reader<&[u8]>,
    stack: &mut [Element],
    skipped: usize,
    text: &str,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(_) if skipped > 0 => Ok(()),
        Some(el) => {
            el.text.push_str(text);
            Ok(())
        }
        None if xml_trim(text).is_empty() => Ok(()),
        None => Err(syntax(reader, "text outside the root element")),
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

/// Where we are, for messages: `<device>/<capability type='pci'>/<bus>`.
#[derive(Clone)]
pub(crate) struct Ctx(String);

impl Ctx {
    pub(crate) fn child(&self, el: &Element) -> Ctx {
        let mut s = self.0.clone();
        if !s.is_empty() {
            s.push('/');
        }
        s.push('<');
        s.push_str(&shorten(&el.name));
        if let Some(t) = el.attr("type") {
            s.push_str(&format!(" type='{}'", shorten(t)));
        }
        s.push('>');
        Ctx(s)
    }

    pub(crate) fn err(&self, msg: impl std::fmt::Display) -> XmlError {
        XmlError::Invalid(format!("{}: {msg}", self.0))
    }
}

impl Element {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Checks that only `allowed` attributes are present.
    pub(crate) fn only_attrs(&self, ctx: &Ctx, allowed: &[&str]) -> Result<(), XmlError> {
        match self
            .attrs
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            Some((k, _)) => Err(ctx.err(format!("unexpected attribute '{}'", shorten(k)))),
            None => Ok(()),
        }
    }

    pub(crate) fn req_attr(&self, ctx: &Ctx, name: &str) -> Result<&str, XmlError> {
        self.attr(name)
            .ok_or_else(|| ctx.err(format!("missing attribute '{name}'")))
    }

    /// An element that holds only child elements (whitespace between them).
    pub(crate) fn element_only(&self, ctx: &Ctx) -> Result<(), XmlError> {
        if !xml_trim(&self.text).is_empty() {
            return Err(ctx.err(format!(
                "unexpected text '{}'",
                shorten(xml_trim(&self.text))
            )));
        }
        Ok(())
    }

    /// An element that holds only text.
    pub(crate) fn text_only(&self, ctx: &Ctx) -> Result<&str, XmlError> {
        if let Some(c) = self.children.first() {
            return Err(ctx.child(c).err("unexpected element"));
        }
        Ok(&self.text)
    }

    pub(crate) fn empty(&self, ctx: &Ctx) -> Result<(), XmlError> {
        self.element_only(ctx)?;
        if let Some(c) = self.children.first() {
            return Err(ctx
                .child(c)
                .err("unexpected element (this element is empty)"));
        }
        Ok(())
    }
}

/// A value for a message: its first 40 characters, control characters escaped.
pub(crate) fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out.escape_debug().to_string()
}

/// XPath `string()` of a text element, as libvirt reads it: empty → `None`.
pub(crate) fn opt_text(t: &str) -> Option<String> {
    (!t.is_empty()).then(|| t.to_string())
}

/// A child of libvirt's schema sequences: element name, and the attribute whose
/// value picks it (`type='…'`), if any.
pub(crate) type Slot = (
    &'static str,
    Option<(&'static str, &'static [&'static str])>,
);

/// Children that libvirt's schema lists as a sequence must come in that order
/// (any of them may be missing). Children not in `order` are left for
/// [`Children::done`] to report.
pub(crate) fn in_order(ctx: &Ctx, el: &Element, order: &[Slot]) -> Result<(), XmlError> {
    let rank = |c: &Element| {
        order.iter().position(|(name, attr)| {
            c.name == *name
                && attr.is_none_or(|(a, values)| c.attr(a).is_some_and(|v| values.contains(&v)))
        })
    };
    let mut last: Option<(usize, &Element)> = None;
    for c in &el.children {
        let Some(r) = rank(c) else { continue };
        match last {
            Some((lr, prev)) if r < lr => {
                return Err(ctx.child(c).err(format!(
                    "must come before <{}> (libvirt's schema fixes the order here)",
                    prev.name
                )))
            }
            _ => last = Some((r, c)),
        }
    }
    Ok(())
}

/// Required text that libvirt reads with XPath `string()`: empty is missing.
pub(crate) fn required_text(ctx: &Ctx, el: &Element, what: &str) -> Result<String, XmlError> {
    let c = ctx.child(el);
    el.only_attrs(&c, &[])?;
    opt_text(el.text_only(&c)?).ok_or_else(|| c.err(format!("is empty: {what} is required")))
}

/// Values libvirt prints with `%d`: larger ones would come out negative.
pub(crate) fn at_most_int(ctx: &Ctx, what: &str, v: u32) -> Result<u32, XmlError> {
    if v > i32::MAX as u32 {
        return Err(ctx.err(format!(
            "{what} {v} is out of range (libvirt prints it as a signed int; at most {})",
            i32::MAX
        )));
    }
    Ok(v)
}

pub(crate) fn parse_unsigned(ctx: &Ctx, what: &str, s: &str) -> Result<u32, XmlError> {
    parse_decimal(ctx, what, s)
}

/// An unsigned decimal number of type `T` (`u32`, `u64`).
pub(crate) fn parse_decimal<T: std::str::FromStr>(
    ctx: &Ctx,
    what: &str,
    s: &str,
) -> Result<T, XmlError> {
    let t = xml_trim(s);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ctx.err(format!(
            "{what} '{}' is not an unsigned decimal number",
            shorten(s)
        )));
    }
    t.parse()
        .map_err(|_| ctx.err(format!("{what} '{}' is out of range", shorten(s))))
}

pub(crate) fn parse_int(ctx: &Ctx, what: &str, s: &str) -> Result<i32, XmlError> {
    xml_trim(s)
        .parse()
        .map_err(|_| ctx.err(format!("{what} '{}' is not an integer", shorten(s))))
}

/// `hexuint` of basictypes.rng: `(0x)?[0-9a-f]+`.
pub(crate) fn parse_hexuint(ctx: &Ctx, what: &str, s: &str) -> Result<u32, XmlError> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.is_empty()
        || !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ctx.err(format!(
            "{what} '{}' is not a hexadecimal number",
            shorten(s)
        )));
    }
    u32::from_str_radix(digits, 16)
        .map_err(|_| ctx.err(format!("{what} '{}' is out of range", shorten(s))))
}

fn parse_address(ctx: &Ctx, el: &Element) -> Result<PciAddress, XmlError> {
    let ctx = ctx.child(el);
    el.only_attrs(&ctx, &["domain", "bus", "slot", "function"])?;
    el.empty(&ctx)?;
    let field =
        |n: &str| -> Result<u32, XmlError> { parse_hexuint(&ctx, n, el.req_attr(&ctx, n)?) };
    let (domain, bus, slot, function) = (
        field("domain")?,
        field("bus")?,
        field("slot")?,
        field("function")?,
    );
    let small = |v: u32, n: &str| {
        u8::try_from(v).map_err(|_| ctx.err(format!("{n} 0x{v:x} is out of range")))
    };
    PciAddress::new(
        domain,
        small(bus, "bus")?,
        small(slot, "slot")?,
        small(function, "function")?,
    )
    .map_err(|e| ctx.err(e))
}

/// Takes children in document order, one kind at a time.
pub(crate) struct Children<'a> {
    ctx: Ctx,
    items: Vec<(&'a Element, bool)>,
}

impl<'a> Children<'a> {
    pub(crate) fn new(ctx: &Ctx, el: &'a Element) -> Self {
        Self {
            ctx: ctx.clone(),
            items: el.children.iter().map(|c| (c, false)).collect(),
        }
    }

    /// All children named `name` (and, when given, with `type='…'`).
    pub(crate) fn all(&mut self, name: &str, kind: Option<&str>) -> Vec<&'a Element> {
        let mut out = Vec::new();
        for (el, used) in self.items.iter_mut() {
            if !*used && el.name == name && (kind.is_none() || el.attr("type") == kind) {
                *used = true;
                out.push(*el);
            }
        }
        out
    }

    /// At most one.
    pub(crate) fn opt(
        &mut self,
        name: &str,
        kind: Option<&str>,
    ) -> Result<Option<&'a Element>, XmlError> {
        let found = self.all(name, kind);
        if found.len() > 1 {
            return Err(self.ctx.child(found[1]).err("appears more than once"));
        }
        Ok(found.first().copied())
    }

    /// Exactly one.
    pub(crate) fn req(&mut self, name: &str, kind: Option<&str>) -> Result<&'a Element, XmlError> {
        self.opt(name, kind)?.ok_or_else(|| {
            let what = match kind {
                Some(k) => format!("<{name} type='{k}'>"),
                None => format!("<{name}>"),
            };
            self.ctx.err(format!("missing element {what}"))
        })
    }

    /// Fails on any child not taken.
    pub(crate) fn done(self) -> Result<(), XmlError> {
        match self.items.iter().find(|(_, used)| !used) {
            Some((el, _)) => Err(self.ctx.child(el).err("unexpected element")),
            None => Ok(()),
        }
    }
}

/// Parses a node-device document.
pub fn parse(xml: &str) -> Result<NodeDevice, XmlError> {
    let root = build_tree(xml)?;
    let ctx = Ctx::default_root().child(&root);
    if root.name != "device" {
        return Err(ctx.err("the root element must be <device>"));
    }
    root.only_attrs(&ctx, &[])?;
    root.element_only(&ctx)?;
    let mut ch = Children::new(&ctx, &root);
    let name = required_text(&ctx, ch.req("name", None)?, "the device name")?;
    // Optional text: libvirt's XPath string() makes an empty element absent.
    let path = match ch.opt("path", None)? {
        Some(p) => {
            let c = ctx.child(p);
            p.only_attrs(&c, &[])?;
            opt_text(p.text_only(&c)?)
        }
        None => None,
    };
    let mut devnodes = Vec::new();
    for d in ch.all("devnode", None) {
        let c = ctx.child(d);
        d.only_attrs(&c, &["type"])?;
        let kind = match d.req_attr(&c, "type")? {
            "dev" => DevNodeKind::Dev,
            "link" => DevNodeKind::Link,
            other => {
                return Err(c.err(format!(
                    "type '{}' is neither 'dev' nor 'link'",
                    shorten(other)
                )))
            }
        };
        devnodes.push(DevNode {
            kind,
            path: d.text_only(&c)?.to_string(),
        });
    }
    if devnodes
        .iter()
        .filter(|d| d.kind == DevNodeKind::Dev)
        .count()
        > 1
    {
        return Err(ctx.err("more than one <devnode type='dev'>"));
    }
    // libvirt keeps one node and a list of links, and prints the node first.
    devnodes.sort_by_key(|d| d.kind != DevNodeKind::Dev);
    let parent = match ch.opt("parent", None)? {
        Some(p) => {
            let c = ctx.child(p);
            if !p.attrs.is_empty() {
                return Err(c.err("a parent given by WWN (SCSI hosts) is not supported: nodedev-shim handles system, pci and net devices"));
            }
            opt_text(p.text_only(&c)?)
        }
        None => None,
    };
    let driver = match ch.opt("driver", None)? {
        Some(d) => {
            let c = ctx.child(d);
            d.only_attrs(&c, &[])?;
            d.element_only(&c)?;
            let mut dc = Children::new(&c, d);
            let n = dc.req("name", None)?;
            let nc = c.child(n);
            n.only_attrs(&nc, &[])?;
            let v = opt_text(n.text_only(&nc)?);
            dc.done()?;
            v
        }
        None => None,
    };
    let mut capabilities = Vec::new();
    for cap in ch.all("capability", None) {
        capabilities.push(capability(&ctx, cap)?);
    }
    ch.done()?;
    if capabilities.is_empty() {
        return Err(ctx.err(format!(
            "no device capabilities for '{}' (a <capability> is required)",
            shorten(&name)
        )));
    }
    Ok(NodeDevice {
        name,
        path,
        devnodes,
        parent,
        driver,
        capabilities,
    })
}

impl Ctx {
    fn default_root() -> Ctx {
        Ctx(String::new())
    }
}

fn capability(ctx: &Ctx, el: &Element) -> Result<Capability, XmlError> {
    let c = ctx.child(el);
    let kind = el.req_attr(&c, "type")?;
    el.element_only(&c)?;
    match kind {
        "system" => {
            el.only_attrs(&c, &["type"])?;
            system(&c, el).map(Capability::System)
        }
        "pci" => {
            el.only_attrs(&c, &["type"])?;
            pci(&c, el).map(|p| Capability::Pci(Box::new(p)))
        }
        "net" => {
            el.only_attrs(&c, &["type"])?;
            net(&c, el).map(Capability::Net)
        }
        other => {
            el.only_attrs(&c, &["type"])?;
            crate::parse_classes::capability(&c, el, other)
        }
    }
}

pub(crate) fn text_child(
    ctx: &Ctx,
    ch: &mut Children<'_>,
    name: &str,
) -> Result<Option<String>, XmlError> {
    match ch.opt(name, None)? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &[])?;
            Ok(opt_text(e.text_only(&c)?))
        }
        None => Ok(None),
    }
}

fn system(ctx: &Ctx, el: &Element) -> Result<SystemCapability, XmlError> {
    in_order(
        ctx,
        el,
        &[("product", None), ("hardware", None), ("firmware", None)],
    )?;
    let mut ch = Children::new(ctx, el);
    let product = text_child(ctx, &mut ch, "product")?;
    let hw = ch.req("hardware", None)?;
    let hc = ctx.child(hw);
    hw.only_attrs(&hc, &[])?;
    hw.element_only(&hc)?;
    in_order(
        &hc,
        hw,
        &[
            ("vendor", None),
            ("version", None),
            ("serial", None),
            ("uuid", None),
        ],
    )?;
    let mut hch = Children::new(&hc, hw);
    let vendor = text_child(&hc, &mut hch, "vendor")?;
    let version = text_child(&hc, &mut hch, "version")?;
    let serial = text_child(&hc, &mut hch, "serial")?;
    let uuid_el = hch.req("uuid", None)?;
    let uc = hc.child(uuid_el);
    let uuid_text = uuid_el.text_only(&uc)?;
    let uuid = canonical_uuid(xml_trim(uuid_text))
        .ok_or_else(|| uc.err(format!("'{}' is not a UUID", shorten(uuid_text))))?;
    hch.done()?;
    let fw = ch.req("firmware", None)?;
    let fc = ctx.child(fw);
    fw.only_attrs(&fc, &[])?;
    fw.element_only(&fc)?;
    in_order(
        &fc,
        fw,
        &[("vendor", None), ("version", None), ("release_date", None)],
    )?;
    let mut fch = Children::new(&fc, fw);
    let firmware = SystemFirmware {
        vendor: text_child(&fc, &mut fch, "vendor")?,
        version: text_child(&fc, &mut fch, "version")?,
        release_date: text_child(&fc, &mut fch, "release_date")?,
    };
    fch.done()?;
    ch.done()?;
    Ok(SystemCapability {
        product,
        hardware: SystemHardware {
            vendor,
            version,
            serial,
            uuid: Some(uuid),
        },
        firmware,
    })
}

pub(crate) fn id_name(ctx: &Ctx, el: &Element) -> Result<IdName, XmlError> {
    let c = ctx.child(el);
    el.only_attrs(&c, &["id"])?;
    let id = parse_hexuint(&c, "id", el.req_attr(&c, "id")?)?;
    Ok(IdName {
        id,
        name: opt_text(el.text_only(&c)?),
    })
}

pub(crate) fn number_child(ctx: &Ctx, ch: &mut Children<'_>, name: &str) -> Result<u32, XmlError> {
    let e = ch.req(name, None)?;
    let c = ctx.child(e);
    e.only_attrs(&c, &[])?;
    parse_unsigned(&c, name, e.text_only(&c)?)
}

const PCI_ORDER: &[Slot] = &[
    ("class", None),
    ("domain", None),
    ("bus", None),
    ("slot", None),
    ("function", None),
    ("product", None),
    ("vendor", None),
    ("capability", Some(("type", &["phys_function"]))),
    ("capability", Some(("type", &["virt_functions"]))),
    (
        "capability",
        Some(("type", &["pci-bridge", "cardbus-bridge"])),
    ),
    ("capability", Some(("type", &["mdev_types"]))),
    ("capability", Some(("type", &["vpd"]))),
    ("iommuGroup", None),
    ("numa", None),
    ("pci-express", None),
];

fn pci(ctx: &Ctx, el: &Element) -> Result<PciCapability, XmlError> {
    in_order(ctx, el, PCI_ORDER)?;
    let mut ch = Children::new(ctx, el);
    let class = match ch.opt("class", None)? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &[])?;
            let t = e.text_only(&c)?;
            let digits = t
                .strip_prefix("0x")
                .filter(|d| d.len() == 6 && d.bytes().all(|b| b.is_ascii_hexdigit()));
            let d = digits.ok_or_else(|| {
                c.err(format!(
                    "class '{}' is not 0x followed by 6 hex digits",
                    shorten(t)
                ))
            })?;
            Some(u32::from_str_radix(d, 16).expect("checked hex"))
        }
        None => None,
    };
    let domain = number_child(ctx, &mut ch, "domain")?;
    let domain = at_most_int(&ctx.child(el), "domain", domain)?;
    let bus = number_child(ctx, &mut ch, "bus")?;
    let slot = number_child(ctx, &mut ch, "slot")?;
    let function = number_child(ctx, &mut ch, "function")?;
    let product = id_name(ctx, ch.req("product", None)?)?;
    let vendor = id_name(ctx, ch.req("vendor", None)?)?;

    let phys_function = match ch.opt("capability", Some("phys_function"))? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &["type"])?;
            e.element_only(&c)?;
            let mut cc = Children::new(&c, e);
            let a = cc
                .opt("address", None)?
                .ok_or_else(|| c.err("Missing address in 'phys_function' capability"))?;
            let a = parse_address(&c, a)?;
            cc.done()?;
            Some(a)
        }
        None => None,
    };
    let virt_functions = match ch.opt("capability", Some("virt_functions"))? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &["type", "maxCount"])?;
            e.element_only(&c)?;
            let max_count = e
                .attr("maxCount")
                .map(|m| parse_unsigned(&c, "Malformed 'maxCount' parameter", m))
                .transpose()?
                // 0 is libvirt's "unknown": not printed.
                .filter(|m| *m > 0);
            let mut cc = Children::new(&c, e);
            let addresses = cc
                .all("address", None)
                .into_iter()
                .map(|a| parse_address(&c, a))
                .collect::<Result<Vec<_>, _>>()?;
            cc.done()?;
            Some(VirtFunctions {
                max_count,
                addresses,
            })
        }
        None => None,
    };
    let mut header = None;
    for (kind, value) in [
        ("pci-bridge", BridgeHeader::PciBridge),
        ("cardbus-bridge", BridgeHeader::CardbusBridge),
    ] {
        if let Some(e) = ch.opt("capability", Some(kind))? {
            let c = ctx.child(e);
            e.only_attrs(&c, &["type"])?;
            e.empty(&c)?;
            if header.is_some() {
                return Err(c.err("a device has one header type"));
            }
            header = Some(value);
        }
    }
    let mdev_types = match ch.opt("capability", Some("mdev_types"))? {
        Some(e) => mdev_types(ctx, e)?,
        None => Vec::new(),
    };
    let vpd = match ch.opt("capability", Some("vpd"))? {
        Some(e) => Some(vpd(ctx, e)?),
        None => None,
    };
    let iommu_group = match ch.opt("iommuGroup", None)? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &["number"])?;
            e.element_only(&c)?;
            let number = parse_unsigned(&c, "number", e.req_attr(&c, "number")?)?;
            let number = at_most_int(&c, "number", number)?;
            let mut cc = Children::new(&c, e);
            let addresses = cc
                .all("address", None)
                .into_iter()
                .map(|a| parse_address(&c, a))
                .collect::<Result<Vec<_>, _>>()?;
            cc.done()?;
            if addresses.is_empty() {
                return Err(c.err("an IOMMU group lists at least one <address>"));
            }
            Some(IommuGroup { number, addresses })
        }
        None => None,
    };
    let numa_node = match ch.opt("numa", None)? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &["node"])?;
            e.empty(&c)?;
            e.attr("node")
                .map(|n| parse_int(&c, "node", n))
                .transpose()?
                // A negative node is libvirt's "unknown": not printed.
                .filter(|n| *n >= 0)
        }
        None => None,
    };
    let pci_express = match ch.opt("pci-express", None)? {
        Some(e) => Some(pci_express(ctx, e)?),
        None => None,
    };
    if let Some(other) = ch.all("capability", None).first() {
        let c = ctx.child(other);
        return Err(c.err(format!(
            "unknown PCI capability type '{}'",
            shorten(other.attr("type").unwrap_or(""))
        )));
    }
    ch.done()?;
    Ok(PciCapability {
        class,
        domain,
        bus,
        slot,
        function,
        product,
        vendor,
        phys_function,
        virt_functions,
        header,
        mdev_types,
        vpd,
        iommu_group,
        numa_node,
        pci_express,
    })
}

pub(crate) fn mdev_types(ctx: &Ctx, el: &Element) -> Result<Vec<MdevType>, XmlError> {
    let c = ctx.child(el);
    el.only_attrs(&c, &["type"])?;
    let mut ch = Children::new(&c, el);
    let mut out = Vec::new();
    for t in ch.all("type", None) {
        let tc = c.child(t);
        t.only_attrs(&tc, &["id"])?;
        t.element_only(&tc)?;
        let id = t.req_attr(&tc, "id")?.to_string();
        in_order(
            &tc,
            t,
            &[
                ("name", None),
                ("deviceAPI", None),
                ("availableInstances", None),
            ],
        )?;
        let mut tch = Children::new(&tc, t);
        let name = text_child(&tc, &mut tch, "name")?;
        let api_el = tch.req("deviceAPI", None)?;
        let api = api_el.text_only(&tc.child(api_el))?.to_string();
        if !matches!(api.as_str(), "vfio-pci" | "vfio-ccw" | "vfio-ap") {
            return Err(tc.child(api_el).err(format!(
                "'{}' is not vfio-pci, vfio-ccw or vfio-ap",
                shorten(&api)
            )));
        }
        let available_instances = number_child(&tc, &mut tch, "availableInstances")?;
        tch.done()?;
        out.push(MdevType {
            id,
            name,
            device_api: api,
            available_instances,
        });
    }
    ch.done()?;
    if out.is_empty() {
        return Err(c.err("lists at least one <type>"));
    }
    Ok(out)
}

/// `vpdFieldValueFormat` of nodedev.rng: `[0-9a-zA-F -_,.:;=]{0,255}`.
fn vpd_value(ctx: &Ctx, el: &Element) -> Result<String, XmlError> {
    let v = el.text_only(ctx)?;
    let ok = v.chars().count() <= 255
        && v.chars().all(|c| {
            c.is_ascii_digit()
                || c.is_ascii_lowercase()
                || ('A'..='F').contains(&c)
                || (' '..='_').contains(&c)
                || ",.:;=".contains(c)
        });
    if !ok {
        return Err(ctx.err(format!("'{}' is not a valid VPD value", shorten(v))));
    }
    Ok(v.to_string())
}

fn vpd_custom(
    ctx: &Ctx,
    el: &Element,
    allowed: fn(char) -> bool,
) -> Result<VpdCustomField, XmlError> {
    let c = ctx.child(el);
    el.only_attrs(&c, &["index"])?;
    let index = el.req_attr(&c, "index")?;
    let mut chars = index.chars();
    let (Some(i), None) = (chars.next(), chars.next()) else {
        return Err(c.err(format!("index '{}' is not one character", shorten(index))));
    };
    if !allowed(i) {
        return Err(c.err(format!("index '{}' is not allowed here", i.escape_debug())));
    }
    Ok(VpdCustomField {
        index: i,
        value: vpd_value(&c, el)?,
    })
}

/// Vendor or system fields as libvirt keeps them: an empty one is skipped, and a
/// repeated index replaces the earlier value in its place.
fn custom_fields(
    ctx: &Ctx,
    ch: &mut Children<'_>,
    name: &str,
    allowed: fn(char) -> bool,
) -> Result<Vec<VpdCustomField>, XmlError> {
    let mut out: Vec<VpdCustomField> = Vec::new();
    for e in ch.all(name, None) {
        let f = vpd_custom(ctx, e, allowed)?;
        if f.value.is_empty() {
            continue;
        }
        match out.iter_mut().find(|o| o.index == f.index) {
            Some(o) => o.value = f.value,
            None => out.push(f),
        }
    }
    Ok(out)
}

fn vpd(ctx: &Ctx, el: &Element) -> Result<VpdResource, XmlError> {
    let c = ctx.child(el);
    el.only_attrs(&c, &["type"])?;
    in_order(
        &c,
        el,
        &[
            ("name", None),
            ("fields", Some(("access", &["readonly"]))),
            ("fields", Some(("access", &["readwrite"]))),
        ],
    )?;
    let mut ch = Children::new(&c, el);
    let name_el = ch.req("name", None)?;
    let name = vpd_value(&c.child(name_el), name_el)?;
    if name.is_empty() {
        return Err(c
            .child(name_el)
            .err("is empty: libvirt requires the VPD name"));
    }
    let mut read_only = None;
    let mut read_write = None;
    for f in ch.all("fields", None) {
        let fc = c.child(f);
        f.only_attrs(&fc, &["access"])?;
        f.element_only(&fc)?;
        in_order(
            &fc,
            f,
            &[
                ("change_level", None),
                ("manufacture_id", None),
                ("part_number", None),
                ("serial_number", None),
                ("asset_tag", None),
                ("vendor_field", None),
                ("system_field", None),
            ],
        )?;
        let mut fch = Children::new(&fc, f);
        // libvirt reads these with XPath string(): an empty one is absent.
        let field = |fch: &mut Children<'_>, n: &str| -> Result<Option<String>, XmlError> {
            match fch.opt(n, None)? {
                Some(e) => {
                    let ec = fc.child(e);
                    e.only_attrs(&ec, &[])?;
                    Ok(opt_text(&vpd_value(&ec, e)?))
                }
                None => Ok(None),
            }
        };
        let vendor_index = |c: char| c.is_ascii_digit() || c.is_ascii_uppercase();
        match f.req_attr(&fc, "access")? {
            "readonly" if read_only.is_none() => {
                let ro = VpdReadOnly {
                    change_level: field(&mut fch, "change_level")?,
                    manufacture_id: field(&mut fch, "manufacture_id")?,
                    part_number: field(&mut fch, "part_number")?,
                    serial_number: field(&mut fch, "serial_number")?,
                    vendor_fields: custom_fields(&fc, &mut fch, "vendor_field", vendor_index)?,
                };
                fch.done()?;
                read_only = Some(ro);
            }
            "readwrite" if read_write.is_none() => {
                let rw = VpdReadWrite {
                    asset_tag: field(&mut fch, "asset_tag")?,
                    vendor_fields: custom_fields(&fc, &mut fch, "vendor_field", vendor_index)?,
                    system_fields: custom_fields(&fc, &mut fch, "system_field", |c| {
                        c.is_ascii_digit() || (c.is_ascii_uppercase() && c != 'A')
                    })?,
                };
                fch.done()?;
                read_write = Some(rw);
            }
            "readonly" | "readwrite" => return Err(fc.err("appears more than once")),
            other => {
                return Err(fc.err(format!(
                    "access '{}' is neither readonly nor readwrite",
                    shorten(other)
                )))
            }
        }
    }
    ch.done()?;
    Ok(VpdResource {
        name,
        read_only,
        read_write,
    })
}

fn pci_express(ctx: &Ctx, el: &Element) -> Result<PciExpress, XmlError> {
    let c = ctx.child(el);
    el.only_attrs(&c, &[])?;
    el.element_only(&c)?;
    let mut ch = Children::new(&c, el);
    let mut out = PciExpress::default();
    for l in ch.all("link", None) {
        let lc = c.child(l);
        l.only_attrs(&lc, &["validity", "port", "speed", "width"])?;
        l.empty(&lc)?;
        let port = l
            .attr("port")
            .map(|p| parse_unsigned(&lc, "port", p).and_then(|p| at_most_int(&lc, "port", p)))
            .transpose()?;
        let speed = match l.attr("speed") {
            Some(s) => Some(LinkSpeed::from_name(s).ok_or_else(|| {
                lc.err(format!(
                    "speed '{}' is not one of 2.5, 5, 8, 16, 32, 64",
                    shorten(s)
                ))
            })?),
            None => None,
        };
        let width = parse_unsigned(&lc, "width", l.req_attr(&lc, "width")?)?;
        let width = at_most_int(&lc, "width", width)?;
        let link = PciExpressLink { port, speed, width };
        let slot = match l.req_attr(&lc, "validity")? {
            "cap" => &mut out.cap,
            "sta" => &mut out.sta,
            other => {
                return Err(lc.err(format!(
                    "validity '{}' is neither cap nor sta",
                    shorten(other)
                )))
            }
        };
        if slot.is_some() {
            return Err(lc.err("appears more than once"));
        }
        *slot = Some(link);
    }
    ch.done()?;
    Ok(out)
}

fn net(ctx: &Ctx, el: &Element) -> Result<NetCapability, XmlError> {
    in_order(
        ctx,
        el,
        &[
            ("interface", None),
            ("address", None),
            ("link", None),
            ("feature", None),
            ("capability", None),
        ],
    )?;
    let mut ch = Children::new(ctx, el);
    let interface = required_text(ctx, ch.req("interface", None)?, "the interface name")?;
    let address = match ch.opt("address", None)? {
        Some(a) => {
            let ac = ctx.child(a);
            a.only_attrs(&ac, &[])?;
            let mac = a.text_only(&ac)?;
            let ok = mac.len() == 17
                && mac.split(':').count() == 6
                && mac
                    .split(':')
                    .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
            if !ok {
                return Err(ac.err(format!("'{}' is not a MAC address", shorten(mac))));
            }
            Some(mac.to_string())
        }
        None => None,
    };
    let link = match ch.opt("link", None)? {
        Some(l) => {
            let lc = ctx.child(l);
            l.only_attrs(&lc, &["speed", "state"])?;
            l.empty(&lc)?;
            // A speed of 0 is libvirt's "not set" and is not printed. "unknown" is
            // a real state (virNetDevIfState 1, what `lo` reports) and is printed.
            let speed = l
                .attr("speed")
                .map(|s| parse_unsigned(&lc, "speed", s))
                .transpose()?
                .filter(|s| *s > 0);
            let state = match l.attr("state") {
                None => None,
                Some(s) if NET_LINK_STATES.contains(&s) => Some(s.to_string()),
                Some(other) => {
                    return Err(lc.err(format!(
                        "state '{}' is not one of {}",
                        shorten(other),
                        NET_LINK_STATES.join(", ")
                    )))
                }
            };
            // Nothing to print is no link at all.
            (speed.is_some() || state.is_some()).then_some(NetLink { speed, state })
        }
        None => None,
    };
    let mut features = Vec::new();
    for f in ch.all("feature", None) {
        let fc = ctx.child(f);
        f.only_attrs(&fc, &["name"])?;
        f.empty(&fc)?;
        let n = f.req_attr(&fc, "name")?;
        if !NET_FEATURES.contains(&n) {
            return Err(fc.err(format!(
                "unknown network device feature '{}' (libvirt knows {})",
                shorten(n),
                NET_FEATURES.join(", ")
            )));
        }
        features.push(n.to_string());
    }
    // libvirt keeps features in a bitmap: its order, each once.
    let features = canonical_features(&features);
    let subtype = match ch.opt("capability", None)? {
        Some(s) => {
            let sc = ctx.child(s);
            s.only_attrs(&sc, &["type"])?;
            s.empty(&sc)?;
            match s.req_attr(&sc, "type")? {
                t @ ("80203" | "80211") => Some(t.to_string()),
                other => {
                    return Err(sc.err(format!(
                        "net capability type '{}' is neither 80203 nor 80211",
                        shorten(other)
                    )))
                }
            }
        }
        None => None,
    };
    ch.done()?;
    Ok(NetCapability {
        interface,
        address,
        link,
        features,
        subtype,
    })
}
