// The web client's GraphQL transport: the committed web operations (clients/web/*.graphql, and clients/admin for the admin screens,
// served as /app/operations.json), sent by SHA-256 as Apollo's persisted queries, over HTTP
// and over graphql-transport-ws. No library: the page works offline and without a build step.

export class GraphQLError extends Error {
  constructor(errors, status) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.status = status;
    this.code = (errors[0] && errors[0].extensions && errors[0].extensions.code) || null;
  }
}

export class GraphQLClient {
  constructor({ endpoint, token, operations }) {
    this.endpoint = endpoint;
    this.token = token; // null: signed out (signIn, refreshToken, an invitation's setPassword)
    this.operations = operations; // name -> { sha256, document, kind }
    this.socket = null;
    // Called once on a 401 (an expired access token); resolves to a new access token, or null.
    this.renewToken = null;
    // Told "live" or "offline" as the shared WebSocket connects and drops (the page's live indicator).
    this.onstatus = () => {};
  }

  static async load(base, token) {
    const response = await fetch(`${base}/app/operations.json`, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`cannot load the operations (HTTP ${response.status})`);
    const { operations } = await response.json();
    return new GraphQLClient({ endpoint: `${base}/graphql`, token, operations });
  }

  operation(name) {
    const operation = this.operations[name];
    if (!operation) throw new Error(`no web operation is named ${name}`);
    return operation;
  }

  // A query or mutation by hash; if the server does not know the hash (a server with another
  // manifest), the automatic-persisted-query way: send the document with its hash once.
  async request(name, variables = {}, retried = false, files = null) {
    const operation = this.operation(name);
    const persisted = { persistedQuery: { version: 1, sha256Hash: operation.sha256 } };
    const sentWith = this.token;
    let body = await this._post({ operationName: name, variables, extensions: persisted }, files);
    if (body.errors && ["PERSISTED_QUERY_NOT_FOUND", "PERSISTED_QUERY_NOT_SUPPORTED"].includes(codeOf(body))) {
      body = await this._post({ operationName: name, variables, extensions: persisted, query: operation.document }, files);
    }
    if (body.status === 401 && this.renewToken && !retried) {
      // Renewed meanwhile (by the socket, or a request beside this one): the new token will do.
      const token = this.token !== sentWith ? this.token : await this.renewToken();
      if (token) {
        this.token = token;
        return this.request(name, variables, true, files);
      }
    }
    if (body.errors && !body.data) throw new GraphQLError(body.errors, body.status);
    return body.data;
  }

  // A mutation with files, as the GraphQL multipart request spec sends them: `files` maps where each file
  // goes in the variables ("input.file", left null there) to the File.
  upload(name, variables, files) {
    return this.request(name, variables, false, files);
  }

  async _post(payload, files = null) {
    const response = await fetch(this.endpoint, {
      method: "POST",
      headers: {
        ...(files ? {} : { "Content-Type": "application/json" }), // a form sets its own, with the boundary
        Accept: "application/graphql-response+json, application/json",
        ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
      },
      body: files ? multipart(payload, files) : JSON.stringify(payload),
    });
    let body;
    try {
      body = await response.json();
    } catch (error) {
      body = { errors: [{ message: `HTTP ${response.status}`, extensions: { code: "HTTP_" + response.status } }] };
    }
    body.status = response.status;
    return body;
  }

  // A subscription by hash over the shared WebSocket; returns a function that ends it. `variables`
  // may be a function, asked again each time the socket (re)subscribes: a subscription that resumes
  // from a cursor (scheduleChanged's `after`) gives the last one it saw.
  subscribe(name, variables, onData, onError = () => {}) {
    if (!this.socket) {
      // The socket asks for the token each time it connects, and after a 4403 (its token expired)
      // renews it and connects again.
      this.socket = new TransportWebSocket(this.endpoint.replace(/^http/, "ws"), () => this.token, async () => {
        const token = this.renewToken ? await this.renewToken() : null;
        if (token) this.token = token;
        return Boolean(token);
      });
      this.socket.onstatus = (status) => this.onstatus(status);
    }
    const operation = this.operation(name);
    const extensions = { persistedQuery: { version: 1, sha256Hash: operation.sha256 } };
    return this.socket.subscribe(
      () => ({ operationName: name, variables: typeof variables === "function" ? variables() : variables, extensions }),
      onData,
      onError,
    );
  }

  close() {
    if (this.socket) this.socket.close();
  }
}

function multipart(payload, files) {
  const form = new FormData();
  const paths = Object.keys(files);
  form.append("operations", JSON.stringify(payload));
  form.append("map", JSON.stringify(Object.fromEntries(paths.map((path, i) => [String(i), [`variables.${path}`]]))));
  paths.forEach((path, i) => form.append(String(i), files[path], files[path].name));
  return form;
}

function codeOf(body) {
  const error = body.errors && body.errors[0];
  return (error && error.extensions && error.extensions.code) || null;
}

// graphql-transport-ws (the protocol of the `graphql-ws` library), reconnecting with backoff and
// subscribing again to everything still wanted. Any close but 4403 is retried, 1012 (the service
// restarting: sessiongraph/server/drain.py) included; the delay is drawn at random below the backoff,
// so that the many pages one instance closes at once do not come back at the same moment.
class TransportWebSocket {
  constructor(url, token, renew = async () => false) {
    this.url = url;
    this.token = token; // a function: the current access token
    this.renew = renew;
    this.subscriptions = new Map(); // id -> { payload (a function: the payload to send now), onData, onError }
    this.nextId = 1;
    this.retries = 0;
    this.closed = false;
    this.acknowledged = false;
    this.onstatus = () => {};
    this._open();
  }

  _open() {
    this.acknowledged = false;
    const socket = new WebSocket(this.url, "graphql-transport-ws");
    this.ws = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${this.token()}` } }));
    socket.onmessage = (event) => this._receive(JSON.parse(event.data));
    socket.onclose = (event) => {
      this.acknowledged = false;
      this.onstatus("offline");
      if (this.closed) return;
      if (event.code === 4403) { // refused: a new token, if one can be had, else do not hammer the server
        this.renew().then((renewed) => { if (renewed && !this.closed) this._open(); });
        return;
      }
      const delay = Math.random() * Math.min(30000, 500 * 2 ** this.retries++);
      setTimeout(() => this._open(), delay);
    };
  }

  _receive(message) {
    switch (message.type) {
      case "connection_ack":
        this.acknowledged = true;
        this.retries = 0;
        this.onstatus("live");
        for (const [id, subscription] of this.subscriptions) this._send(id, subscription.payload);
        break;
      case "ping":
        this.ws.send(JSON.stringify({ type: "pong" }));
        break;
      case "next": {
        const subscription = this.subscriptions.get(message.id);
        if (!subscription) break;
        if (message.payload.errors) subscription.onError(new GraphQLError(message.payload.errors));
        if (message.payload.data) subscription.onData(message.payload.data);
        break;
      }
      case "error": {
        const subscription = this.subscriptions.get(message.id);
        this.subscriptions.delete(message.id);
        if (subscription) subscription.onError(new GraphQLError(message.payload));
        break;
      }
      case "complete":
        this.subscriptions.delete(message.id);
        break;
    }
  }

  _send(id, payload) {
    this.ws.send(JSON.stringify({ id, type: "subscribe", payload: payload() }));
  }

  subscribe(payload, onData, onError) {
    const id = String(this.nextId++);
    this.subscriptions.set(id, { payload, onData, onError });
    if (this.acknowledged) this._send(id, payload);
    return () => {
      if (this.subscriptions.delete(id) && this.acknowledged) this.ws.send(JSON.stringify({ id, type: "complete" }));
    };
  }

  close() {
    this.closed = true;
    this.ws.close(1000, "bye");
  }
}
