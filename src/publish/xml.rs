//! The XML writer the Atom and RSS outputs (and OPML) share.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::publish::scope::Format;
use crate::publish::view::{Page, View};

/// XML 1.0 cannot carry most control characters; a JSON Feed source can. They
/// are dropped from XML outputs (and only there).
pub(crate) fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    if s.chars().any(bad) {
        s.chars().filter(|c| !bad(*c)).collect::<String>().into()
    } else {
        s.into()
    }
}

/// A thin layer over quick-xml's writer for the handful of shapes feeds use.
pub(crate) struct Xml {
    w: Writer<Vec<u8>>,
}

impl Xml {
    pub(crate) fn new() -> Xml {
        let mut w = Writer::new_with_indent(Vec::with_capacity(64 << 10), b' ', 1);
        // Writing to a Vec cannot fail; results are ignored throughout.
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
        Xml { w }
    }

    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        for (k, v) in attrs {
            start.push_attribute((*k, xml_safe(v).as_ref()));
        }
        let _ = self.w.write_event(Event::Start(start));
    }

    pub(crate) fn close(&mut self, name: &str) {
        let _ = self.w.write_event(Event::End(BytesEnd::new(name)));
    }

    pub(crate) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        for (k, v) in attrs {
            start.push_attribute((*k, xml_safe(v).as_ref()));
        }
        let _ = self.w.write_event(Event::Empty(start));
    }

    pub(crate) fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.open(name, attrs);
        let _ = self
            .w
            .write_event(Event::Text(BytesText::new(xml_safe(text).as_ref())));
        self.close(name);
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        let mut v = self.w.into_inner();
        v.push(b'\n');
        v
    }
}

/// RFC 5005 links of a paged feed, and WebSub's hub (the self link, which
/// WebSub needs too, is written by the caller).
pub(crate) fn paging_links(
    x: &mut Xml,
    element: &str,
    view: &View<'_>,
    format: Format,
    page: &Page,
) {
    let kind = format.media_type();
    if page.before.is_some() {
        x.empty(
            element,
            &[
                ("rel", "first"),
                ("type", kind),
                ("href", &view.page_url(format, None)),
            ],
        );
    }
    if let Some(next) = page.next {
        x.empty(
            element,
            &[
                ("rel", "next"),
                ("type", kind),
                ("href", &view.page_url(format, Some(next))),
            ],
        );
    }
    if let Some(hub) = &view.config.websub.hub {
        x.empty(element, &[("rel", "hub"), ("href", hub.as_str())]);
    }
}
