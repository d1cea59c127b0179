import Tollgate
