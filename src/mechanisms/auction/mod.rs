//! The expressive-bidding call auction (SPEC §5, seeds 003–004): orders carry bidder
//! logic, and each auction clears the whole book exactly, maximising total surplus with
//! one uniform price per symbol inside the NBBO.
//!
//! - [`expr`]: the bidder-logic language (lexer, parser, AST with positions);
//!   [`linear`]: its compilation into linear constraints against one auction's data;
//! - [`book`]: books in RON and their compiled form; [`load`]: reading, validating and
//!   compiling them, with positions;
//! - [`rules`]: what an alternative means (value, admitted fills, price rules), once;
//! - [`clearing`]: the mixed-integer formulation, the tie rule and the pricing stage;
//! - [`verify`](mod@verify): the independent check of a clearing against the rules;
//! - [`reference`](mod@reference): the brute-force optimum of small books, which tests the model.
//!
//! - [`config`]: the `Auction(...)` schema of the in-tick mechanism and its checks (the
//!   mechanism itself, issue 16's last part, is not built yet).
//!
//! `docs/auction.md` states the language, the templates and the formulation.

pub mod book;
pub mod clearing;
pub mod config;
pub mod decompose;
pub mod expr;
pub mod generate;
pub mod linear;
pub mod load;
pub mod reference;
pub mod report;
pub mod rules;
pub mod verify;
