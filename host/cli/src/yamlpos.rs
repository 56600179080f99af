//! Where each field of a YAML document is, by line, so that `aviary lint` can point at the line
//! of every error it reports.
//!
//! serde's YAML deserializers forget positions once a value is built, and the checks (`crd`
//! schema check, Argo's validation) work on built values and name fields by path
//! (`spec.strategy.canary.steps[0].setWeight`). So the file is parsed a second time, as a stream
//! of marked events (yaml-rust2), into a map from those same paths to lines.

use std::collections::BTreeMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// The lines of the fields of one YAML document, keyed by path (`spec.replicas`,
/// `spec.strategy.canary.steps[1]`); the document itself is the empty path.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    lines: BTreeMap<String, usize>,
}

impl Positions {
    /// The 1-based line of `path` (a leading `.` is ignored). A field that is not in the document
    /// (a missing required field) is reported at its closest ancestor that is.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut path = path.trim_start_matches('.').to_string();
        loop {
            if let Some(line) = self.lines.get(&path) {
                return Some(*line);
            }
            if path.is_empty() {
                return None;
            }
            path = parent(&path).to_string();
        }
    }
}

/// `a.b[2]` → `a.b`, `a.b` → `a`, `a` → ``.
fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Parses every document of `text`; one [`Positions`] per document, in order. A syntax error
/// yields the documents read before it (the YAML error itself is reported by the real parser).
pub fn positions(text: &str) -> Vec<Positions> {
    let mut recv = Recorder::default();
    let mut parser = Parser::new_from_str(text);
    let _ = parser.load(&mut recv, true);
    recv.finish_document();
    recv.docs
}

/// A container being read: a mapping (expecting a key or a value) or a sequence (with the next
/// index).
enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct Recorder {
    docs: Vec<Positions>,
    current: Option<Positions>,
    stack: Vec<Frame>,
}

impl Recorder {
    fn finish_document(&mut self) {
        if let Some(doc) = self.current.take() {
            self.docs.push(doc);
        }
        self.stack.clear();
    }

    fn record(&mut self, path: String, mark: Marker) {
        if let Some(doc) = self.current.as_mut() {
            doc.lines.entry(path).or_insert(mark.line());
        }
    }

    /// The path of the value that starts now, and the bookkeeping for the container it is in.
    /// Returns `None` when the event is a mapping key (which is recorded, not descended into).
    fn value_path(&mut self, key_text: Option<&str>, mark: Marker) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
            Some(Frame::Map { path, key }) => match key.take() {
                Some(k) => Some(join(path, &k)),
                None => {
                    // This event is a key: remember it and its line.
                    let k = key_text.unwrap_or_default().to_string();
                    let p = join(path, &k);
                    *key = Some(k);
                    self.record(p, mark);
                    None
                }
            },
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::DocumentStart => {
                self.finish_document();
                self.current = Some(Positions::default());
            }
            Event::DocumentEnd | Event::StreamEnd => self.finish_document(),
            Event::Scalar(text, ..) => {
                if let Some(p) = self.value_path(Some(&text), mark) {
                    self.record(p, mark);
                }
            }
            Event::Alias(_) => {
                if let Some(p) = self.value_path(Some(""), mark) {
                    self.record(p, mark);
                }
            }
            Event::MappingStart(..) => {
                // A mapping used as a key is not something a manifest has; treat it as a value.
                let path = self.value_path(None, mark).unwrap_or_default();
                self.record(path.clone(), mark);
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.value_path(None, mark).unwrap_or_default();
                self.record(path.clone(), mark);
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Nothing | Event::StreamStart => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: demo
spec:
  replicas: 4
  strategy:
    canary:
      steps:
      - setWeight: 25
      - pause: {duration: 10s}
      - analysis:
          templates:
          - templateName: ok
---
kind: AnalysisTemplate
spec:
  metrics: [{name: a}, {name: b}]
";

    #[test]
    fn every_field_has_the_line_of_its_key() {
        let docs = positions(DOC);
        assert_eq!(docs.len(), 2);
        let d = &docs[0];
        assert_eq!(d.line_of("kind"), Some(2));
        assert_eq!(d.line_of("metadata.name"), Some(4));
        assert_eq!(d.line_of(".spec.replicas"), Some(6));
        assert_eq!(d.line_of("spec.strategy.canary.steps[0].setWeight"), Some(10));
        assert_eq!(d.line_of("spec.strategy.canary.steps[1].pause.duration"), Some(11));
        assert_eq!(d.line_of("spec.strategy.canary.steps[2].analysis.templates[0].templateName"), Some(14));
        assert_eq!(docs[1].line_of("spec.metrics[1].name"), Some(18));
    }

    #[test]
    fn a_missing_field_points_at_its_closest_present_ancestor() {
        let d = &positions(DOC)[0];
        assert_eq!(d.line_of("spec.selector"), d.line_of("spec"));
        assert_eq!(d.line_of("spec.strategy.canary.steps[0].setWeight.x"), Some(10));
        assert_eq!(d.line_of("spec.strategy.canary.steps[7]"), Some(9));
    }
}
