/** Size limits shared by the API and the delivery path. */

/** Request bodies (the API) and transformed bodies (http destinations) are at most 256 KB. */
export const MAX_BODY_BYTES = 256 * 1024;
