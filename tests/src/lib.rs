//! Helpers shared by azop's end-to-end tests.
