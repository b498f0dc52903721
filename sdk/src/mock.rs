//! A host for native unit tests: canned responses in, recorded requests and logs out.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::{Context, Host, LogLevel, Request, Response, TransportError};

type Handler = Box<dyn FnMut(&Request) -> Result<Response, TransportError>>;

/// A [`Host`] for native tests of a step: answers `send` from a queue of canned responses
/// (or a closure), and records every request sent, every line logged and every pause asked
/// for (without pausing, so a polling step's test runs instantly).
///
/// Answers are taken from the queue first, in order; when it is empty the handler (if any)
/// answers; with neither, `send` fails with [`TransportError::Other`] naming the request.
///
/// ```
/// use apirun_sdk::{MockHost, Request, Response, TransportError};
///
/// let mock = MockHost::new()
///     .respond(Response::new(200).with_body(r#"{"id":1}"#))
///     .fail(TransportError::Timeout("slow".into()));
/// let ctx = mock.context();
/// assert_eq!(ctx.send(Request::get("http://a/1"))?.status, 200);
/// assert!(ctx.send(Request::get("http://a/2")).is_err());
/// assert_eq!(mock.requests().len(), 2);
///
/// let echo = MockHost::with_handler(|req| Ok(Response::new(200).with_body(req.url.clone())));
/// assert_eq!(echo.context().send(Request::get("http://b"))?.text(), "http://b");
/// # Ok::<(), apirun_sdk::StepError>(())
/// ```
#[derive(Default)]
pub struct MockHost {
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Result<Response, TransportError>>,
    handler: Option<Handler>,
    requests: Vec<Request>,
    logs: Vec<(LogLevel, String)>,
    sleeps: Vec<Duration>,
}

impl fmt::Debug for MockHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("MockHost")
            .field("queued", &state.queue.len())
            .field("has_handler", &state.handler.is_some())
            .field("requests", &state.requests)
            .field("logs", &state.logs)
            .field("sleeps", &state.sleeps)
            .finish()
    }
}

impl MockHost {
    /// A mock with no answers queued.
    pub fn new() -> Self {
        Self::default()
    }

    /// A mock that answers every request (once the queue is empty) with `handler`.
    pub fn with_handler(
        handler: impl FnMut(&Request) -> Result<Response, TransportError> + 'static,
    ) -> Self {
        let mock = Self::new();
        mock.state.borrow_mut().handler = Some(Box::new(handler));
        mock
    }

    /// This mock with `response` queued as the next answer.
    #[must_use]
    pub fn respond(self, response: Response) -> Self {
        self.push_response(response);
        self
    }

    /// This mock with a transport failure queued as the next answer.
    #[must_use]
    pub fn fail(self, error: TransportError) -> Self {
        self.push_error(error);
        self
    }

    /// Queue `response` as an answer.
    pub fn push_response(&self, response: Response) {
        self.state.borrow_mut().queue.push_back(Ok(response));
    }

    /// Queue a transport failure as an answer.
    pub fn push_error(&self, error: TransportError) {
        self.state.borrow_mut().queue.push_back(Err(error));
    }

    /// A [`Context`] over this mock, to call a step function with.
    pub fn context(&self) -> Context<'_> {
        Context::new(self)
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.borrow().requests.clone()
    }

    /// The last request sent.
    pub fn last_request(&self) -> Option<Request> {
        self.state.borrow().requests.last().cloned()
    }

    /// Every line logged so far, in order.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.state.borrow().logs.clone()
    }

    /// Every pause asked for with [`Context::sleep`], in order (none of them waited).
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.borrow().sleeps.clone()
    }

    /// How many queued answers have not been used.
    pub fn pending(&self) -> usize {
        self.state.borrow().queue.len()
    }
}

impl Host for MockHost {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let mut state = self.state.borrow_mut();
        let answer = match state.queue.pop_front() {
            Some(answer) => answer,
            None => match state.handler.as_mut() {
                Some(handler) => handler(&request),
                None => Err(TransportError::Other(format!(
                    "mock host has no answer for {} {}",
                    request.method, request.url
                ))),
            },
        };
        state.requests.push(request);
        answer
    }

    fn log(&self, level: LogLevel, message: &str) {
        self.state
            .borrow_mut()
            .logs
            .push((level, message.to_owned()));
    }

    fn sleep(&self, duration: Duration) {
        self.state.borrow_mut().sleeps.push(duration);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_then_handler_then_error() {
        let mock = MockHost::with_handler(|_| Ok(Response::new(299)));
        mock.push_response(Response::new(201));
        let ctx = mock.context();
        assert_eq!(
            ctx.send(Request::get("http://a")).map(|r| r.status),
            Ok(201)
        );
        assert_eq!(
            ctx.send(Request::get("http://b")).map(|r| r.status),
            Ok(299)
        );
        assert_eq!(mock.pending(), 0);
        assert_eq!(
            mock.last_request().map(|r| r.url),
            Some("http://b".to_owned())
        );

        let empty = MockHost::new();
        let err = empty
            .context()
            .send(Request::head("http://c"))
            .expect_err("no answer");
        assert_eq!(
            err.to_string(),
            "request failed: mock host has no answer for HEAD http://c"
        );
        assert_eq!(empty.requests().len(), 1);
    }

    #[test]
    fn records_logs() {
        let mock = MockHost::new();
        let ctx = mock.context();
        ctx.debug("one");
        ctx.warn(String::from("two"));
        assert_eq!(
            mock.logs(),
            vec![
                (LogLevel::Debug, "one".to_owned()),
                (LogLevel::Warn, "two".to_owned())
            ]
        );
    }
}
