//! Cross-cutting tests: the worked example, spec/examples, rejection paths, properties.
