// Types of live-client: every frame, message, error code and close code of docs/protocol.md
// (sections 7-10). tests/sdk/test_types.py checks these names against that catalog.

/** Codes of the catalog (docs/protocol.md section 9), plus `network` (raised by the SDK). */
export type ErrorCode =
  | "invalid_json"
  | "invalid_request"
  | "unknown_type"
  | "frame_too_large"
  | "unauthorized"
  | "token_expired"
  | "token_invalid"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "session_not_live"
  | "session_ended"
  | "sold_out"
  | "limit_exceeded"
  | "idempotency_key_required"
  | "idempotency_key_reused"
  | "request_in_progress"
  | "coupon_sold_out"
  | "coupon_limit_exceeded"
  | "coupon_expired"
  | "coupon_not_claimed"
  | "coupon_min_spend"
  | "bad_signature"
  | "amount_mismatch"
  | "order_expired"
  | "rate_limited"
  | "comment_too_long"
  | "comment_rejected"
  | "muted"
  | "kicked"
  | "origin_not_allowed"
  | "too_many_connections"
  | "archive_pending"
  | "archive_deleted"
  | "sale_paused"
  | "sale_not_open"
  | "unavailable"
  | "busy"
  | "internal"
  | "in_stock"
  | "waitlist_limit_exceeded"
  | "offer_expired"
  | "payment_unavailable"
  | "link_revoked"
  | "budget_exhausted"
  | "reservations_closed"
  | "network";

/** Close codes of the room socket (docs/protocol.md section 10). */
export type CloseCode =
  | 1000 | 1006 | 1007 | 1009 | 1011 | 1012
  | 4001 | 4004 | 4009 | 4010 | 4013 | 4022 | 4029
  | 4100 | 4101 | 4102 | 4103;

export interface Product {
  product_id: string;
  title: string;
  price_cents: number;
  stock: number;
  limit_per_viewer?: number | null;
}

export interface Coupon {
  coupon_id: string;
  title: string;
  kind: "amount_off" | "percent_off";
  value: number;
  min_spend_cents: number;
  quantity: number;
  per_viewer_limit: number;
  expires_at: number | null;
  left: number;
}

export interface Sale {
  sale_id: string;
  product_id: string;
  sale_price_cents: number;
  starts_at: number;
  ends_at: number;
  stock_cap: number;
  per_viewer_limit: number | null;
  status: "open" | "closed";
}

export interface Comment {
  id: string;
  user: string;
  text: string;
  ts: number;
  t_ms: number;
  count?: number;
  /** Host sockets only. */
  user_id?: string;
  role?: string;
}

/** Durable events carry these (immediate frames and `sold_out`, which rides a tick; in a catch-up too). */
export interface Stamped {
  seq: number;
  ts: number;
  t_ms: number;
}

export interface SnapshotFrame {
  type: "snapshot";
  seq: number;
  epoch?: string | number;
  session_id: string;
  title: string;
  status: "draft" | "live";
  pinned_product_id: string | null;
  products: Product[];
  coupons: Coupon[];
  sales?: Sale[];
  my_coupons?: Array<Coupon & { claim_id: string }>;
  started_at: number | null;
  viewers: number;
  likes?: number;
}
export interface StartedFrame extends Stamped { type: "started"; }
export interface PinFrame extends Stamped { type: "pin"; product_id: string; }
export interface UnpinFrame extends Stamped { type: "unpin"; product_id: string | null; }
export interface CouponFrame extends Stamped, Coupon { type: "coupon"; }
export interface EndedFrame extends Partial<Stamped> { type: "ended"; session_id?: string; }
export interface SoldOutFrame extends Stamped { type: "sold_out"; product_id: string; }
export interface PriceFrame extends Stamped { type: "price"; product_id: string; price_cents: number; }
export interface SaleOpenFrame extends Stamped, Sale { type: "sale_open"; }
export interface SaleCloseFrame extends Stamped { type: "sale_close"; sale_id: string; product_id: string; }
export interface CommentDeletedFrame extends Stamped { type: "comment_deleted"; comment_id: string; }
export interface DrawOpenFrame extends Stamped {
  type: "draw_open";
  draw_id: string;
  keyword: string | null;
  opened_at: number;
  winners: number;
  prize: string;
  ends_at: number;
}
export interface DrawResultFrame extends Stamped {
  type: "draw_result";
  draw_id: string;
  winners: string[];
  seed: string;
  entrants: number;
  entrants_sha256: string;
  prize: string;
}
export interface LikesFrame { type: "likes"; total: number; }
export interface StatsFrame { type: "stats"; comments: number; comments_shown: number; purchases: number; }
/** To one viewer: a host's message (no `kind`), an answer to their question, a guide's coupon. */
export interface PrivateFrame {
  type: "private";
  from: string;
  ts: number;
  kind?: "answer" | "nudge";
  text?: string;
  /** answer */ question_id?: string;
  question?: string;
  from_role?: string;
  /** nudge */ coupon?: Coupon & { guide_id: string };
}
export interface Question {
  question_id: string; session_id: string; viewer_id: string; viewer_name: string;
  guide_id: string | null; comment_id: string | null; text: string; asked_ms: number;
  answer: string | null; answered_by: string | null; answered_ms: number | null;
}
export interface Budget {
  session_id: string; guide_id: string; count: number; value_cap_cents: number;
  count_left: number; value_left_cents: number;
}
export interface Hold { order_id: string; product_id: string; qty: number; status: "reserved" | "expired"; expires_ms: number; }
export interface ViewerNow {
  viewer_id: string; name: string; since_ms: number; watched_ms: number;
  pinned: string[]; holds: Hold[]; waitlist: string[];
}
/** A guide's "my viewers now" (guide sockets; protocol section 7). */
export interface WorkspaceFrame {
  type: "workspace"; session_id: string; guide_id: string; full: boolean; ts: number;
  viewers: ViewerNow[]; gone: string[]; questions?: Question[]; budget?: Budget | null;
}
export interface QuestionFrame { type: "question" | "question_answered"; question: Question; }
export interface DrawWonFrame { type: "draw_won"; draw_id: string; prize: string; }
export interface LeaderboardFrame {
  type: "leaderboard";
  guides: Array<{ guide_id: string; viewers: number; orders: number; gmv_cents: number }>;
}
/** Live stock levels (tick: no seq); in a replay or archive also `seq`, `version`, `ts`, `t_ms`. */
export interface StockFrame extends Partial<Stamped> { type: "stock"; levels: Record<string, number>; version?: number; }
export interface CouponLeftFrame extends Partial<Stamped> { type: "coupon_left"; coupon_id: string; left: number; version?: number; }
export interface PurchaseFrame extends Partial<Stamped> { type: "purchase"; product_id: string; user: string; qty: number; }
export interface CommentsFrame { type: "comments"; items: Comment[]; dropped: number; }
export interface ViewersFrame { type: "viewers"; count: number; }
export interface AckFrame {
  type: "ack";
  ref: string | null;
  /** comment */ id?: string;
  text?: string;
  /** a comment that became a question */ question_id?: string;
  routed_to?: "guide" | "host";
  /** like */ likes?: number;
  /** claim */ coupon_id?: string;
  claim_id?: string;
  left?: number;
  /** moderation */ action?: string;
  target?: string;
}
export interface PongFrame { type: "pong"; ref?: string | null; }
export interface ErrorFrame {
  type: "error";
  code: ErrorCode;
  message: string;
  ref?: string;
  /** With `busy`: wait this long (plus jitter) before joining again (protocol section 6). */
  retry_after_ms?: number;
}

/** Every server -> client frame (docs/protocol.md section 7). */
export type ServerFrame =
  | SnapshotFrame | StartedFrame | PinFrame | UnpinFrame | CouponFrame | EndedFrame
  | SoldOutFrame | PriceFrame | SaleOpenFrame | SaleCloseFrame | CommentDeletedFrame
  | DrawOpenFrame | DrawResultFrame | LikesFrame | StatsFrame | PrivateFrame | DrawWonFrame
  | LeaderboardFrame | WorkspaceFrame | QuestionFrame | StockFrame | CouponLeftFrame | PurchaseFrame | CommentsFrame
  | ViewersFrame | AckFrame | PongFrame | ErrorFrame;

export type FrameType = ServerFrame["type"];
export type FrameOf<T extends FrameType> = Extract<ServerFrame, { type: T }>;

/** Every client -> server message (docs/protocol.md section 8); `ref` is added by `send`. */
export type ClientMessage =
  | { type: "comment"; text: string; ask?: boolean }
  | { type: "like"; count?: number }
  | { type: "claim"; coupon_id: string }
  | { type: "ping" }
  | { type: "mute"; user_id: string }
  | { type: "unmute"; user_id: string }
  | { type: "kick"; user_id: string }
  | { type: "delete_comment"; comment_id: string };

export type ConnectionState = "idle" | "connecting" | "open" | "waiting" | "closed";
export interface StateEvent {
  state: ConnectionState;
  code?: number;
  reason?: string;
  delayMs?: number;
  attempt?: number;
  reconnects?: number;
}

export interface TransportHandlers {
  onOpen(): void;
  onMessage(text: string): void;
  onClose(code: number, reason: string): void;
  onError(err: unknown): void;
}
export interface TransportSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}
export interface Transport {
  open(url: string, handlers: TransportHandlers): TransportSocket;
}

export interface ConnectOptions {
  wsUrl: string;
  token: string;
  share?: string;
  transport?: Transport;
  baseDelayMs?: number;
  maxDelayMs?: number;
  pingIntervalMs?: number;
  ackTimeoutMs?: number;
  random?: () => number;
}

export declare class LiveError extends Error {
  constructor(code: ErrorCode | string, message?: string, status?: number);
  readonly name: "LiveError";
  /** A catalog code, or `network`. */
  readonly code: ErrorCode;
  /** The HTTP status (0 for socket and network errors). */
  readonly status: number;
  /** The server's own message. */
  readonly detail: string;
}

export interface Room {
  readonly state: ConnectionState;
  /** The highest durable `seq` applied (null before the first snapshot). */
  readonly seq: number | null;
  readonly epoch: string | number | null;
  on<T extends FrameType>(type: T, callback: (frame: FrameOf<T>) => void): () => void;
  on(type: "state", callback: (event: StateEvent) => void): () => void;
  on(type: "*", callback: (frame: ServerFrame) => void): () => void;
  send(message: ClientMessage): Promise<AckFrame | PongFrame>;
  comment(text: string): Promise<AckFrame>;
  /** "Ask my guide": a question to the viewer's guide only, not published to the room. */
  ask(text: string): Promise<AckFrame>;
  like(count?: number): Promise<AckFrame>;
  claim(couponId: string): Promise<AckFrame>;
  mute(userId: string): Promise<AckFrame>;
  unmute(userId: string): Promise<AckFrame>;
  kick(userId: string): Promise<AckFrame>;
  deleteComment(commentId: string): Promise<AckFrame>;
  close(): void;
  reconnect(): void;
}

/** An HTTP adapter: resolves with the status and the body text. */
export type RequestAdapter = (
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
) => Promise<{ status: number; text: string }>;

export interface Order {
  order_id: string;
  session_id: string;
  product_id: string;
  qty: number;
  unit_price_cents: number;
  discount_cents: number;
  amount_cents: number;
  coupon_id: string | null;
  status: "reserved" | "paid" | "expired" | "cancelled" | "refund_required" | "refunded";
  guide_id: string | null;
  clip_id: string | null;
  expires_at: number;
  ts: number;
}

export interface Session {
  id: string;
  title: string;
  status: "draft" | "scheduled" | "live" | "ended";
  /** When a scheduled session is announced to start (Unix ms), else null. */
  starts_at: number | null;
  cover_url: string | null;
  ws_url: string;
  pinned_product_id: string | null;
  products: Product[];
  [field: string]: unknown;
}

/** A scheduled session as its countdown page shows it (`GET /api/sessions/{id}/schedule`). */
export interface Schedule {
  session_id: string;
  title: string;
  status: "draft" | "scheduled" | "live" | "ended";
  cover_url: string | null;
  starts_at: number | null;
  started_at: number | null;
  products: Product[];
  /** Active reservations of the session. */
  reservations: number;
  /** Whether the caller has an active reservation. */
  reserved: boolean;
  /** The server's clock when it answered (Unix ms). */
  now: number;
  /** This device's clock when the answer arrived (set by `Api.schedule`). */
  received_at?: number;
}

export interface Reservation {
  reservation_id: string;
  session_id: string;
  viewer_id: string;
  viewer_name: string | null;
  guide_id: string | null;
  status: "active" | "cancelled";
  created_at: number;
  updated_at: number;
}

export interface ReservationTotals {
  session_id: string;
  total: number;
  unattributed: number;
  guides: { guide_id: string; name: string; reservations: number }[];
}

/** One line of a guide's after-live list (`GET /api/guides/me/no-shows`). */
export interface NoShow {
  kind: "no_show" | "no_buy";
  session_id: string;
  viewer_id: string;
  viewer_name: string | null;
  reserved_at: number | null;
  last_seen_at: number | null;
  clip_id: string | null;
  /** The replay or clip page, with the guide's share code. */
  link: string;
}

export interface Api {
  readonly baseUrl: string;
  token: string | null;
  call<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  listSessions(status?: string): Promise<unknown>;
  createSession(title: string, extra?: { starts_at?: number; cover_url?: string }): Promise<Session>;
  session(id: string): Promise<Session>;
  editSession(id: string, fields: { title?: string; cover_url?: string; video_url?: string; starts_at?: number }): Promise<Session>;
  reservations(id: string): Promise<ReservationTotals>;
  uploadCover(id: string, image: Blob): Promise<{ session_id: string; cover_url: string }>;
  schedule(id: string): Promise<Schedule>;
  reserve(id: string, share?: string | null): Promise<Reservation>;
  cancelReservation(id: string): Promise<Reservation>;
  addProduct(id: string, product: {
    sku: string; title: string; price_cents: number; stock: number; limit_per_viewer?: number;
  }): Promise<Product & Record<string, unknown>>;
  start(id: string): Promise<Session>;
  end(id: string): Promise<Session>;
  pin(id: string, productId: string): Promise<unknown>;
  unpin(id: string): Promise<unknown>;
  dropCoupon(id: string, coupon: Record<string, unknown>): Promise<Coupon>;
  openSale(id: string, sale: Record<string, unknown>): Promise<Sale>;
  closeSale(id: string, saleId: string): Promise<Sale>;
  openDraw(id: string, draw: Record<string, unknown>): Promise<unknown>;
  closeDraw(id: string, drawId: string): Promise<unknown>;
  moderate(id: string, action: string, userId: string): Promise<unknown>;
  deleteComment(id: string, commentId: string): Promise<unknown>;
  stats(id: string): Promise<unknown>;
  leaderboard(id: string): Promise<unknown>;
  clips(id: string): Promise<unknown>;
  order(id: string, productId: string, qty?: number, couponId?: string, idempotencyKey?: string): Promise<Order>;
  getOrder(orderId: string): Promise<Order>;
  cancelOrder(orderId: string): Promise<Order>;
  share(sessionId: string, clipId?: string): Promise<{ code: string; url: string; qr_svg: string }>;
  sharePngUrl(sessionId: string, scale?: number): string;
  myOrders(query?: Record<string, string | number | undefined>): Promise<unknown>;
  mySummary(query?: Record<string, string | number | undefined>): Promise<unknown>;
  questions(id: string): Promise<{ items?: Question[]; unclaimed?: Question[]; guides?: Array<{ guide_id: string; questions: number; answered: number; median_answer_ms: number | null; p90_answer_ms: number | null }> }>;
  answer(id: string, questionId: string, text: string): Promise<Question>;
  budgets(id: string): Promise<{ items: Budget[] }>;
  setBudget(id: string, guideId: string, count: number, valueCapCents: number): Promise<Budget>;
  nudge(id: string, viewerId: string, valueCents: number, minSpendCents?: number): Promise<{ coupon: Coupon & { guide_id: string }; viewer_id: string; budget: Budget }>;
  myReservations(query?: { session_id?: string; limit?: number }): Promise<{ items: Reservation[] }>;
  noShows(sessionId: string): Promise<{ session_id: string; guide_id: string; items: NoShow[] }>;
  noShowsCsv(sessionId: string): Promise<string>;
  devSignIn(who: { role: string; sub: string; brand?: string; name?: string; store?: string }): Promise<{ token: string }>;
}

export declare function connect(options: ConnectOptions): Room;
export declare function api(options?: { baseUrl?: string; token?: string | null; request?: RequestAdapter }): Api;
export declare function browserTransport(WebSocketImpl?: unknown): Transport;
export declare function wxTransport(wx: unknown): Transport;
export declare function fetchRequest(fetchImpl?: unknown): RequestAdapter;
export declare function wxRequest(wx: unknown): RequestAdapter;
export declare function describe(code: ErrorCode | string, fallback?: string): string;
/** Words for error codes in another language (e.g. zh-CN), code by code; English for the rest. */
export declare function useMessages(messages: Partial<Record<ErrorCode, string>> | null): void;
export declare function backoffDelay(attempt: number, baseMs: number, maxMs: number, random?: () => number): number;
export declare function newKey(): string;
export declare function remainingMs(schedule: Schedule, nowMs?: number): number;
export declare const MESSAGES: Record<ErrorCode, string>;

declare const LiveClient: {
  connect: typeof connect;
  api: typeof api;
  browserTransport: typeof browserTransport;
  wxTransport: typeof wxTransport;
  fetchRequest: typeof fetchRequest;
  wxRequest: typeof wxRequest;
  describe: typeof describe;
  useMessages: typeof useMessages;
  backoffDelay: typeof backoffDelay;
  newKey: typeof newKey;
  remainingMs: typeof remainingMs;
  LiveError: typeof LiveError;
  MESSAGES: typeof MESSAGES;
};
export default LiveClient;
