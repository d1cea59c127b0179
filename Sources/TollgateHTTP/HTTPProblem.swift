public import Tollgate

/// An RFC 9457 problem (`application/problem+json`) for a request Tollgate refused, so every
/// integration answers the same status, body and headers. Never contains the presented key.
///
/// ```
/// HTTP/1.1 429 Too Many Requests
/// Content-Type: application/problem+json
/// Retry-After: 12
///
/// {"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","title":"Quota exceeded",
///  "status":429,"detail":"Limit day is exhausted; retry in 12 s.","violated-policies":["day"]}
/// ```
public struct HTTPProblem: Sendable, Hashable {
    public static let contentType = "application/problem+json"
    /// The problem type of `draft-ietf-httpapi-ratelimit-headers` for exceeded quotas.
    public static let quotaExceededType = "https://iana.org/assignments/http-problem-types#quota-exceeded"

    public var status: Int
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    public var type: String
    public var title: String
    public var detail: String
    /// For 429: the names of the limits (or `credits`) that refused the request.
    public var violatedPolicies: [String]?

    public init(status: Int, type: String = "about:blank", title: String, detail: String, violatedPolicies: [String]? = nil) {
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.violatedPolicies = violatedPolicies
    }

    /// How to answer a request that presented no key: 400 by default, 401 when the API wants
    /// clients to treat it like a bad key.
    public enum MissingKeyStatus: Int, Sendable, Hashable {
        case badRequest = 400
        case unauthorized = 401
    }

    /// The problem for a refused decision; `nil` when it was allowed.
    public init?(_ decision: Decision) {
        switch decision.outcome {
        case .allowed:
            return nil
        case .malformedKey:
            self.init(status: 401, title: "Unauthorized", detail: "The API key is not a valid key.")
        case .unknownKey, .revoked, .disabled, .expired:
            // One answer for all four: which one it is would tell a guesser something.
            self.init(status: 401, title: "Unauthorized", detail: "The API key is not valid.")
        case .forbidden:
            self.init(status: 403, title: "Forbidden", detail: "The API key does not grant the scope this resource needs.")
        case .rateLimited:
            let violated = decision.limits.filter { !$0.allowed }.map(\.name)
            let detail: String
            if decision.neverSucceeds {
                detail = "The request costs more than \(violated.joined(separator: ", ")) can ever admit."
            } else if let retry = decision.retryAfterSeconds {
                detail = "Limit \(violated.joined(separator: ", ")) is exhausted; retry in \(retry) s."
            } else {
                detail = "Limit \(violated.joined(separator: ", ")) is exhausted."
            }
            self.init(status: 429, type: Self.quotaExceededType, title: "Quota exceeded", detail: detail, violatedPolicies: violated)
        case .creditsExhausted:
            self.init(
                status: 429, type: Self.quotaExceededType, title: "Quota exceeded",
                detail: "The key has \(decision.creditsRemaining ?? 0) credits left; this request costs \(decision.cost).",
                violatedPolicies: ["credits"])
        }
    }

    /// No key presented.
    public static func missingKey(status: MissingKeyStatus) -> HTTPProblem {
        HTTPProblem(status: status.rawValue, title: status == .badRequest ? "Bad Request" : "Unauthorized", detail: "No API key was presented.")
    }

    /// Something that cannot be a key (``PresentedCredential/malformed(_:)``).
    public static func malformedCredential(_ reason: PresentedCredential.Reason) -> HTTPProblem {
        let detail = switch reason {
        case .ambiguous: "More than one API key was presented."
        default: "The API key is not a valid key."
        }
        return HTTPProblem(status: reason == .ambiguous ? 400 : 401, title: reason == .ambiguous ? "Bad Request" : "Unauthorized", detail: detail)
    }

    /// The client's address could not be resolved through the trusted proxies' forwarding header
    /// (``ClientAddress/UnresolvableClient``): 400, rather than counting the request as the proxy.
    public static func unresolvableClient(_ error: ClientAddress.UnresolvableClient) -> HTTPProblem {
        let detail = switch error.reason {
        case .tooLong: "The forwarding header is too long."
        case .malformed: "The forwarding header is not well-formed."
        case .unidentifiedHop: "The forwarding header does not identify the client."
        }
        return HTTPProblem(status: 400, title: "Bad Request", detail: detail)
    }

    /// Too many failed verifications from one client: refused before the key is looked at.
    public static func tooManyFailures(_ decision: Decision) -> HTTPProblem {
        let violated = decision.limits.filter { !$0.allowed }.map(\.name)
        return HTTPProblem(
            status: 429, type: quotaExceededType, title: "Quota exceeded",
            detail: "Too many requests with invalid API keys from this client.", violatedPolicies: violated)
    }

    /// The store failed or did not answer in time (fail-closed).
    public static let unavailable = HTTPProblem(
        status: 503, title: "Service Unavailable", detail: "Rate limiting is temporarily unavailable; try again shortly.")

    /// The JSON body: members in a fixed order, strings escaped per RFC 8259.
    public var json: String {
        var members = [
            "\"type\":\(Self.jsonString(type))", "\"title\":\(Self.jsonString(title))", "\"status\":\(status)",
            "\"detail\":\(Self.jsonString(detail))",
        ]
        if let violatedPolicies {
            members.append("\"violated-policies\":[\(violatedPolicies.map(Self.jsonString).joined(separator: ","))]")
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// The dump's JSON string escaping (RFC 8259), one implementation for both.
    static func jsonString(_ value: String) -> String { JSONString.quoted(value) }
}
