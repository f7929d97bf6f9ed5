//! History checking: deciding whether what clients observed is allowed.
