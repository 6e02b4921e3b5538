//! azop's custom resources.
