//! Getting items in: when each feed is due ([`schedule`], the policy;
//! [`scheduler`], the loops), one poll of one feed ([`poll`]): the request
//! ([`fetch`]) and the document read into rafid's own types ([`parse`]),
//! its text made comparable by [`crate::text::normalize`]; what a poll did ([`report`])
//! and the counts of polls made ([`counters`]); each feed beside its
//! stored state, as the status views show it ([`health`]).

pub mod counters;
pub mod fetch;
pub mod health;
pub mod parse;
pub mod poll;
pub mod report;
pub mod schedule;
pub mod scheduler;
