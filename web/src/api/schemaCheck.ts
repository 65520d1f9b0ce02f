// Compile-time checks (vue-tsc in `npm run check`): the hand-written types of types.ts agree
// with the ones generated from the server's OpenAPI document (schema.d.ts, `npm run gen:api`).
// A change to either side that breaks the other fails the type check here.
import type { components } from './schema';
import type * as T from './types';

type S = components['schemas'];
/** Compiles only when A is assignable to B. */
type Assignable<A extends B, B> = A;
/** True only when A and B are the same set (string unions). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<X extends true> = X;
/** The form offers HTTP_METHODS and keeps the method a string; the server refuses others. */
type LooseMethod<J extends { executor: object }> = Omit<J, 'executor'> & {
  executor: Omit<J['executor'], 'method'> & { method?: string };
};

// What the server sends reads as the UI's type.
export type _ServerToUi = [
  Assignable<S['Job'], T.Job>,
  Assignable<S['LastExecution'], T.LastExecution>,
  Assignable<S['Execution'], T.Execution>,
  Assignable<S['Cluster'], T.ClusterInfo>,
  Assignable<S['CronPreview'], T.CronPreview>,
  Assignable<S['Error'], T.ApiErrorBody>,
  Assignable<S['Ledger'], T.Ledger>,
  Assignable<S['AuthInfo'], T.AuthInfo>,
  Assignable<S['TokenInfo'], T.TokenInfo>,
  Assignable<S['CreatedToken'], T.CreatedToken>,
  Assignable<S['AuditEntry'], T.AuditEntry>,
  Assignable<S['Stats'], T.Stats>,
];

// What the UI sends is what the server takes.
export type _UiToServer = [
  Assignable<T.JobSpec, LooseMethod<S['JobSpec']>>,
  Assignable<T.TokenRequest, S['TokenRequest']>,
];

// The enumerations are the same on both sides.
export type _Enums = [
  Expect<Same<T.ExecutionStatus, S['ExecutionStatus']>>,
  Expect<Same<T.EndReason, S['EndReason']>>,
  Expect<Same<T.Trigger, S['Trigger']>>,
  Expect<Same<T.BackoffKind, NonNullable<S['RetryPolicy']['kind']>>>,
  Expect<Same<T.ConcurrencyPolicy, NonNullable<S['JobSpec']['concurrency_policy']>>>,
];
