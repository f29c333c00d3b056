//! The knowledge base's own parts, pure of the store: what a solution file says
//! ([`file`]), and the tantivy index of solutions that searches them ([`index`]). desk
//! imports files into the store (the source of truth), and feeds the index from the store's
//! revision sequence; the index can always be rebuilt from the store.

pub mod file;
pub mod index;
