// The live event stream: /api/v1/events/stream with the session key, kept
// open while signed in as an administrator and reconnected after a drop.

const LABELS = {
  4000: "Connected to live events",
  4100: "Account created",
  4101: "Account deleted",
  4102: "Account updated",
  4103: "Account signed in",
  4104: "Account sign-in failed",
  4105: "Account session started",
  4106: "Account session ended",
  4107: "Account session expired",
  4150: "Administrator created",
  4151: "Administrator deleted",
  4152: "Administrator updated",
  4153: "Administrator signed in",
  4154: "Administrator sign-in failed",
  4155: "Administrator session started",
  4156: "Administrator session ended",
  4157: "Administrator session expired",
  4400: "Server started",
  4402: "Server shutting down",
};

export function describe(event) {
  if (LABELS[event.Type]) return LABELS[event.Type];
  const name = String(event.TypeString || `Event ${event.Type}`).replace(/^SEVT_/, "").toLowerCase().replace(/_/g, " ");
  return name.charAt(0).toUpperCase() + name.slice(1);
}

export class EventStream {
  constructor(session) {
    this.session = session;
    this.recent = [];
    this.listeners = new Set();
    this.state = "connecting";
    this.closed = false;
    this.retry = 1000;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/events/stream`);
    this.socket = socket;
    let greeted = false;
    socket.addEventListener("open", () => {
      for (const frame of [this.session.username, "SessionKey", "", this.session.key, ""]) socket.send(frame);
    });
    socket.addEventListener("message", (message) => {
      if (!greeted) {
        greeted = true;
        if (String(message.data).startsWith("200")) {
          this.retry = 1000;
          this.setState("live");
        } else {
          this.setState("refused");
          this.closed = true;
        }
        return;
      }
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      this.recent.unshift(event);
      this.recent.length = Math.min(this.recent.length, 100);
      for (const listener of this.listeners) listener({ type: "event", event });
    });
    socket.addEventListener("close", () => {
      if (this.closed) return;
      this.setState("offline");
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 30000);
    });
  }

  setState(state) {
    this.state = state;
    for (const listener of this.listeners) listener({ type: "state", state });
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close() {
    this.closed = true;
    this.listeners.clear();
    if (this.socket) this.socket.close();
  }
}
