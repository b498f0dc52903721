//! TODO-module auth
