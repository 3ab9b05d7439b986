/** What every server of the local stack offers the stack manager. */
export interface ServerStatus {
  name: string;
  running: boolean;
  pid?: number;
  address?: string;
  detail?: string;
}

export interface StackServer {
  readonly name: string;
  /** Starts the server; does nothing when it already runs. */
  start(): Promise<void>;
  /** Stops the server; does nothing when it is not running. */
  stop(): Promise<void>;
  status(): Promise<ServerStatus>;
}
