//! Go's rules, ported from golang.org/x/mod and the go command: what a module path and a version
//! are, how they are case-encoded in URLs and file names, how versions order, and the `h1:`
//! checksums go.sum records, and how the checksum database vouches for them.

pub(crate) mod checksum;
pub mod checksumdb;
pub(crate) mod glob;
pub(crate) mod gosum;
pub(crate) mod modzip;
pub(crate) mod note;
pub mod path;
pub(crate) mod tlog;
pub(crate) mod version;
