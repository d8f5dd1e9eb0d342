// The docker driver lives in ./docker/ (one file per concern); this path stays for its importers.
export { DockerDriver, type DockerDriverOptions } from "./docker/driver.js";
export type { Attachment, Clock, DockerDriverEvents } from "./docker/types.js";
