//! Deduplication: whether an item is one already stored ([`keys`], decided
//! inside the store's transaction by [`decide`]), and
//! whether it is the same story as one another outlet published ([`near`]).
//! [`eval`] measures the decision on labelled pairs. (How a stored story
//! was put together is read from the store: `store::explain`.)

pub mod decide;
pub mod eval;
pub mod keys;
pub mod near;
