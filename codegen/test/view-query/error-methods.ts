import type { MethodShape } from "./view-query-fixtures.js";
import { BadPageSchema, CountSchema, CustomerSchema, CustomerWithOrdersSchema, NameAndCitySchema } from "../gen/viewtest/v1/viewtest_pb.js";
import type { ErrorCase } from "./error-cases.js";

/** The method shape a golden error case is checked against. */
export function methodFor(name: ErrorCase[2]): MethodShape {
  switch (name) {
    case undefined:
      return {};
    case "customer":
      return { response: CustomerSchema };
    case "stream":
      return { response: CustomerSchema, streaming: true };
    case "count":
      return { response: CountSchema };
    case "bad":
      return { response: BadPageSchema };
    case "names":
      return { response: NameAndCitySchema, streaming: true };
    case "with-orders":
      return { response: CustomerWithOrdersSchema, streaming: true };
  }
}
