/**
 * `GET /v1/flash-sales/:id`: the sale's state and remaining stock from edge memory, the page every waiting
 * buyer polls. Served on uWS directly like the purchase (see purchase-route.ts): the per-IP limit, the sale
 * looked up synchronously (the service is asked only for an id this process has not seen) and its JSON text
 * built once per snapshot (SaleDirectory.viewJson). Answers are the ones a kit route would give.
 */
import {
  type DirectRoute,
  errorReply,
  failureReply,
  HttpErrors,
  type HttpRequest,
  type HttpResponse,
  type HttpServer,
  type Logger,
  type Reply,
  requestIdOf,
  safeDecode,
  Validator,
} from '../../services/kit/index.ts';
import type { Guard } from '../guard.ts';
import { PurchaseErrors, SaleParams } from './contract.ts';
import type { KnownSale, SaleDirectory } from './directory.ts';

export const STATUS_PATTERN = '/v1/flash-sales/:id';

export interface StatusRouteDeps {
  server: HttpServer;
  guard: Guard;
  directory: SaleDirectory;
  log: Logger;
}

const SALE_ID = /^[A-Za-z0-9]{1,64}$/;
const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };
const paramsCheck = new Validator(SaleParams, 'params');

export function registerStatusRoute(deps: StatusRouteDeps): void {
  const { server, guard, directory, log } = deps;
  const direct: DirectRoute = server.direct('GET', STATUS_PATTERN, {
    tags: ['flash-sales'],
    summary: 'A sale, its state and remaining stock (lags by under a second)',
    params: SaleParams,
  });
  const view = (sale: KnownSale): Reply => ({
    status: 200,
    body: directory.viewJson(sale, Date.now()),
    headers: JSON_TYPE,
  });

  server.app.get(STATUS_PATTERN, (res: HttpResponse, req: HttpRequest) => {
    const started = performance.now();
    const requestId = requestIdOf(req.getHeader('x-request-id') || undefined);
    const forwardedFor = req.getHeader('x-forwarded-for') || undefined;
    const rawId = req.getParameter(0) ?? '';
    direct.begin();
    const answer = (reply: Reply) => direct.reply(res, requestId, reply, started);
    const fail = (err: unknown) => answer(failureReply(err, log, requestId, STATUS_PATTERN));

    let id = rawId;
    if (!SALE_ID.test(rawId)) {
      const decoded = safeDecode(rawId);
      if (decoded === undefined) {
        answer(errorReply(HttpErrors.BAD_REQUEST('path parameter id is not valid percent-encoding')));
        return;
      }
      try {
        paramsCheck.parse({ id: decoded });
      } catch (err) {
        fail(err);
        return;
      }
      id = decoded;
    }
    if (server.closing) {
      answer(errorReply(HttpErrors.SHUTTING_DOWN(), { 'retry-after': '1' }));
      return;
    }
    const refusal = guard.ip(server.clientIp(res, forwardedFor), Date.now());
    if (refusal !== undefined) {
      answer(errorReply(refusal));
      return;
    }
    const sale = directory.get(id);
    if (sale !== undefined) {
      answer(view(sale));
      return;
    }
    let gone = false;
    res.onAborted(() => {
      gone = true;
      direct.aborted();
    });
    directory.find(id).then(
      (found) => {
        if (gone) return;
        answer(found === undefined ? errorReply(PurchaseErrors.SALE_NOT_FOUND()) : view(found));
      },
      (err) => {
        if (!gone) fail(err);
      },
    );
  });
}
