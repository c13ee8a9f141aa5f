//! Deduplication: whether an item is one already stored ([`keys`]), and
//! whether it is the same story as one another outlet published ([`near`]).
//! [`eval`] measures the decision on labelled pairs; [`explain`] shows how a
//! stored story was put together.

pub mod eval;
pub mod explain;
pub mod keys;
pub mod near;
