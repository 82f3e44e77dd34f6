//! Routes written as text, with attributes of their own: the syntax of
//! `--advertise-file` lines, of the `announce` and `expect` commands and of
//! `cue-bgp listen --expect`; the tables built from them
//! ([`RouteTable`]) and checks of received routes against them.
//!
//! ```text
//! PREFIX [path-id N] [next-hop ADDR] [origin igp|egp|incomplete]
//!        [as-path ASN...] [med N] [local-pref N] [community C]...
//!        [large-community A:B:C]... [ext-community C]...
//! ```
//!
//! `path-id` is the ADD-PATH (RFC 7911) path identifier: routes of one
//! prefix with different identifiers are different paths, all sent to a
//! peer that receives several, the lowest identifier alone to others; as
//! an expectation it must be the identifier the path came with.
//!
//! Every keyword is optional. In a route to announce, what is not stated is
//! the session's (the command line's); stated communities of a kind
//! replace the session's of that kind; `as-path` is the path behind ours
//! (towards an external peer our AS goes first, RFC 4271 section 5.1.2;
//! towards an internal peer the path goes as written). As an expectation,
//! an attribute not stated is not checked, `as-path` is the whole path
//! received, and stated communities (of each kind) must all be present,
//! others may be too.
//!
//! ```
//! use cue::bgp::route::RouteSpec;
//! let r: RouteSpec = "10.0.0.0/24 med 10 community 65000:1 as-path 65010 65020".parse().unwrap();
//! assert_eq!(r.prefix.to_string(), "10.0.0.0/24");
//! assert_eq!(r.attributes.med, Some(10));
//! assert_eq!(r.attributes.as_path, Some(vec![65010, 65020]));
//! assert!("10.0.0.0/24 med".parse::<RouteSpec>().is_err());
//! ```

//!
//! | file | what |
//! |---|---|
//! | `syntax.rs` | the route syntax: [`RouteSpec`], [`AttributeSpec`], [`parse_prefix`] |
//! | `table.rs` | [`RouteTable`]: routes with interned attribute sets |
//! | `load.rs` | loading a table from text or a reader on parser threads |
//! | `sorted.rs` | [`SortedRoutes`]: a table sorted and grouped by attribute set |
//! | `expect.rs` | checking received routes against expectations |
//! | `paths.rs` | adding and removing routes one by one, path by path |

mod error;
mod expect;
mod load;
mod paths;
mod sorted;
mod syntax;
mod table;

pub use crate::bgp::wire::ExtCommunity;
pub use error::{RouteError, RouteErrorKind};
pub use expect::{check_routes, Difference, ExpectReport};
pub(crate) use expect::{Tracker, WatchedRib};
pub use paths::{add_routes, remove_routes};
pub use sorted::SortedRoutes;
pub use syntax::{parse_prefix, parse_route_lines, AttributeSpec, RouteSpec};
pub use table::RouteTable;
