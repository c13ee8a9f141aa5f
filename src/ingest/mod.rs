//! Getting items in: when each feed is due ([`schedule`], the policy;
//! [`scheduler`], the loops), one poll of one feed ([`poll`]): the request
//! ([`fetch`]), the document read into rafid's own types ([`parse`]) and
//! its text made comparable ([`normalize`]).

pub mod fetch;
pub mod normalize;
pub mod parse;
pub mod poll;
pub mod schedule;
pub mod scheduler;
